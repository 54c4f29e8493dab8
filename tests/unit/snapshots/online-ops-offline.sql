BEGIN;

-- Running upgrade shop_0002 -> shop_0003

COMMIT;

SET lock_timeout = '5s';

SET statement_timeout = 0;

ALTER TABLE "Shop"."Orders" ADD COLUMN IF NOT EXISTS "referrerId" bigint;

RESET lock_timeout;

RESET statement_timeout;

BEGIN;

COMMIT;

SET lock_timeout = '5s';

SET statement_timeout = 0;

CREATE INDEX CONCURRENTLY IF NOT EXISTS "ix_Orders_referrerId" ON "Shop"."Orders" ("referrerId");

DO $dbtune$ BEGIN IF EXISTS (SELECT 1 FROM pg_index WHERE indexrelid = to_regclass('"Shop"."ix_Orders_referrerId"') AND NOT indisvalid) THEN RAISE EXCEPTION USING MESSAGE = 'index ix_Orders_referrerId is INVALID (a failed build): run DROP INDEX CONCURRENTLY "Shop"."ix_Orders_referrerId"; then apply this script again'; END IF; END $dbtune$;

RESET lock_timeout;

RESET statement_timeout;

BEGIN;

COMMIT;

SET lock_timeout = '5s';

SET statement_timeout = 0;

DO $dbtune$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = '"Shop"."Orders"'::regclass AND conname = 'fk_Orders_referrerId') THEN ALTER TABLE "Shop"."Orders" ADD CONSTRAINT "fk_Orders_referrerId" FOREIGN KEY ("referrerId") REFERENCES "Shop"."Customer" (id) NOT VALID; END IF; END $dbtune$;

DO $dbtune$ BEGIN IF EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = '"Shop"."Orders"'::regclass AND conname = 'fk_Orders_referrerId' AND NOT convalidated) THEN ALTER TABLE "Shop"."Orders" VALIDATE CONSTRAINT "fk_Orders_referrerId"; END IF; END $dbtune$;

RESET lock_timeout;

RESET statement_timeout;

BEGIN;

COMMIT;

SET lock_timeout = '5s';

SET statement_timeout = 0;

ALTER TABLE "Shop"."Orders" ADD COLUMN IF NOT EXISTS "trackingId" uuid;

DO $dbtune$ BEGIN IF NOT (SELECT atthasdef FROM pg_attribute WHERE attrelid = '"Shop"."Orders"'::regclass AND attname = 'trackingId') THEN ALTER TABLE "Shop"."Orders" ALTER COLUMN "trackingId" SET DEFAULT gen_random_uuid(); END IF; END $dbtune$;

RESET lock_timeout;

RESET statement_timeout;

SET statement_timeout = 0;

DO $dbtune$ DECLARE k name; t text; lo text; hi text; BEGIN SELECT a.attname, format_type(a.atttypid, a.atttypmod) INTO k, t FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0] WHERE i.indrelid = '"Shop"."Orders"'::regclass AND i.indisprimary AND i.indnkeyatts = 1; IF k IS NULL THEN RAISE EXCEPTION USING MESSAGE = 'backfill of "Shop"."Orders": no one-column primary key to walk'; END IF; EXECUTE 'SELECT ' || quote_ident(k) || '::text FROM ' || '"Shop"."Orders"' || ' ORDER BY ' || quote_ident(k) || ' LIMIT 1' INTO lo; WHILE lo IS NOT NULL LOOP hi := NULL; EXECUTE 'SELECT ' || quote_ident(k) || '::text FROM ' || '"Shop"."Orders"' || ' WHERE ' || quote_ident(k) || ' >= $1::' || t || ' ORDER BY ' || quote_ident(k) || ' OFFSET ' || '20000' || ' LIMIT 1' INTO hi USING lo; IF hi IS NULL THEN EXECUTE 'UPDATE ' || '"Shop"."Orders"' || ' SET ' || '"trackingId" = (gen_random_uuid())' || ' WHERE ' || quote_ident(k) || ' >= $1::' || t || ' AND ("trackingId" IS NULL)' USING lo; ELSE EXECUTE 'UPDATE ' || '"Shop"."Orders"' || ' SET ' || '"trackingId" = (gen_random_uuid())' || ' WHERE ' || quote_ident(k) || ' >= $1::' || t || ' AND ' || quote_ident(k) || ' < $2::' || t || ' AND ("trackingId" IS NULL)' USING lo, hi; END IF; COMMIT; lo := hi; PERFORM pg_sleep(0.0); END LOOP; END $dbtune$;

RESET statement_timeout;

SET lock_timeout = '5s';

SET statement_timeout = 0;

DO $dbtune$ BEGIN IF NOT (SELECT attnotnull FROM pg_attribute WHERE attrelid = '"Shop"."Orders"'::regclass AND attname = 'trackingId') AND NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = '"Shop"."Orders"'::regclass AND conname = 'ck_Orders_trackingId_not_null') THEN ALTER TABLE "Shop"."Orders" ADD CONSTRAINT "ck_Orders_trackingId_not_null" CHECK ("trackingId" IS NOT NULL) NOT VALID; END IF; END $dbtune$;

DO $dbtune$ BEGIN IF EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = '"Shop"."Orders"'::regclass AND conname = 'ck_Orders_trackingId_not_null' AND NOT convalidated) THEN ALTER TABLE "Shop"."Orders" VALIDATE CONSTRAINT "ck_Orders_trackingId_not_null"; END IF; END $dbtune$;

DO $dbtune$ BEGIN IF NOT (SELECT attnotnull FROM pg_attribute WHERE attrelid = '"Shop"."Orders"'::regclass AND attname = 'trackingId') THEN ALTER TABLE "Shop"."Orders" ALTER COLUMN "trackingId" SET NOT NULL; END IF; END $dbtune$;

DO $dbtune$ BEGIN IF (SELECT attnotnull FROM pg_attribute WHERE attrelid = '"Shop"."Orders"'::regclass AND attname = 'trackingId') AND EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = '"Shop"."Orders"'::regclass AND conname = 'ck_Orders_trackingId_not_null') THEN ALTER TABLE "Shop"."Orders" DROP CONSTRAINT "ck_Orders_trackingId_not_null"; END IF; END $dbtune$;

RESET lock_timeout;

RESET statement_timeout;

BEGIN;

COMMIT;

SET lock_timeout = '5s';

SET statement_timeout = 0;

CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS "uq_Orders_trackingId" ON "Shop"."Orders" ("trackingId");

DO $dbtune$ BEGIN IF EXISTS (SELECT 1 FROM pg_index WHERE indexrelid = to_regclass('"Shop"."uq_Orders_trackingId"') AND NOT indisvalid) THEN RAISE EXCEPTION USING MESSAGE = 'index uq_Orders_trackingId is INVALID (a failed build): run DROP INDEX CONCURRENTLY "Shop"."uq_Orders_trackingId"; then apply this script again'; END IF; END $dbtune$;

RESET lock_timeout;

RESET statement_timeout;

SET lock_timeout = '5s';

DO $dbtune$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = '"Shop"."Orders"'::regclass AND conname = 'uq_Orders_trackingId') THEN ALTER TABLE "Shop"."Orders" ADD CONSTRAINT "uq_Orders_trackingId" UNIQUE USING INDEX "uq_Orders_trackingId"; END IF; END $dbtune$;

RESET lock_timeout;

BEGIN;

COMMIT;

SET lock_timeout = '5s';

SET statement_timeout = 0;

DO $dbtune$ BEGIN IF NOT (SELECT attnotnull FROM pg_attribute WHERE attrelid = '"Shop"."Orders"'::regclass AND attname = 'note') AND NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = '"Shop"."Orders"'::regclass AND conname = 'ck_Orders_note_not_null') THEN ALTER TABLE "Shop"."Orders" ADD CONSTRAINT "ck_Orders_note_not_null" CHECK (note IS NOT NULL) NOT VALID; END IF; END $dbtune$;

DO $dbtune$ BEGIN IF EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = '"Shop"."Orders"'::regclass AND conname = 'ck_Orders_note_not_null' AND NOT convalidated) THEN ALTER TABLE "Shop"."Orders" VALIDATE CONSTRAINT "ck_Orders_note_not_null"; END IF; END $dbtune$;

DO $dbtune$ BEGIN IF NOT (SELECT attnotnull FROM pg_attribute WHERE attrelid = '"Shop"."Orders"'::regclass AND attname = 'note') THEN ALTER TABLE "Shop"."Orders" ALTER COLUMN note SET NOT NULL; END IF; END $dbtune$;

DO $dbtune$ BEGIN IF (SELECT attnotnull FROM pg_attribute WHERE attrelid = '"Shop"."Orders"'::regclass AND attname = 'note') AND EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = '"Shop"."Orders"'::regclass AND conname = 'ck_Orders_note_not_null') THEN ALTER TABLE "Shop"."Orders" DROP CONSTRAINT "ck_Orders_note_not_null"; END IF; END $dbtune$;

RESET lock_timeout;

RESET statement_timeout;

BEGIN;

COMMIT;

SET statement_timeout = 0;

DO $dbtune$ DECLARE k name; t text; lo text; hi text; BEGIN SELECT a.attname, format_type(a.atttypid, a.atttypmod) INTO k, t FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0] WHERE i.indrelid = '"Shop"."Orders"'::regclass AND i.indisprimary AND i.indnkeyatts = 1; IF k IS NULL THEN RAISE EXCEPTION USING MESSAGE = 'backfill of "Shop"."Orders": no one-column primary key to walk'; END IF; EXECUTE 'SELECT ' || quote_ident(k) || '::text FROM ' || '"Shop"."Orders"' || ' ORDER BY ' || quote_ident(k) || ' LIMIT 1' INTO lo; WHILE lo IS NOT NULL LOOP hi := NULL; EXECUTE 'SELECT ' || quote_ident(k) || '::text FROM ' || '"Shop"."Orders"' || ' WHERE ' || quote_ident(k) || ' >= $1::' || t || ' ORDER BY ' || quote_ident(k) || ' OFFSET ' || '20000' || ' LIMIT 1' INTO hi USING lo; IF hi IS NULL THEN EXECUTE 'UPDATE ' || '"Shop"."Orders"' || ' SET ' || 'status = (''archived'')' || ' WHERE ' || quote_ident(k) || ' >= $1::' || t || ' AND (status = ''cancelled'' AND "createdAt" < ''2026-10-01'')' USING lo; ELSE EXECUTE 'UPDATE ' || '"Shop"."Orders"' || ' SET ' || 'status = (''archived'')' || ' WHERE ' || quote_ident(k) || ' >= $1::' || t || ' AND ' || quote_ident(k) || ' < $2::' || t || ' AND (status = ''cancelled'' AND "createdAt" < ''2026-10-01'')' USING lo, hi; END IF; COMMIT; lo := hi; PERFORM pg_sleep(0.0); END LOOP; END $dbtune$;

RESET statement_timeout;

BEGIN;

UPDATE alembic_version SET version_num='shop_0003' WHERE alembic_version.version_num = 'shop_0002';

COMMIT;


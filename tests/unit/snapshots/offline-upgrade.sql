BEGIN;

-- Running upgrade 0001_baseline -> 0002_message_bounds

COMMIT;

SET lock_timeout = '5s';

DO $dbtune$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = 'conversation_history'::regclass AND conname = 'ck_conversation_history_role_length') THEN ALTER TABLE conversation_history ADD CONSTRAINT ck_conversation_history_role_length CHECK (char_length(role) <= 32) NOT VALID; END IF; END $dbtune$;

DO $dbtune$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = 'conversation_history'::regclass AND conname = 'ck_conversation_history_message_type_length') THEN ALTER TABLE conversation_history ADD CONSTRAINT ck_conversation_history_message_type_length CHECK (char_length(message_type) <= 64) NOT VALID; END IF; END $dbtune$;

RESET lock_timeout;

BEGIN;

SET LOCAL lock_timeout = '5s';

SET LOCAL statement_timeout = 0;

ALTER TABLE conversation_history VALIDATE CONSTRAINT ck_conversation_history_role_length;

ALTER TABLE conversation_history VALIDATE CONSTRAINT ck_conversation_history_message_type_length;

UPDATE alembic_version SET version_num='0002_message_bounds' WHERE alembic_version.version_num = '0001_baseline';

COMMIT;

BEGIN;

-- Running upgrade 0002_message_bounds -> 0003_covering_messages

COMMIT;

SET lock_timeout = '5s';

SET statement_timeout = 0;

CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_conversation_history_user_id_created_at ON conversation_history (user_id, created_at DESC) INCLUDE (role, message_type);

DO $dbtune$ BEGIN IF EXISTS (SELECT 1 FROM pg_index WHERE indexrelid = to_regclass('ix_conversation_history_user_id_created_at') AND NOT indisvalid) THEN RAISE EXCEPTION USING MESSAGE = 'index ix_conversation_history_user_id_created_at is INVALID (a failed build): run DROP INDEX CONCURRENTLY ix_conversation_history_user_id_created_at; then apply this script again'; END IF; END $dbtune$;

RESET lock_timeout;

RESET statement_timeout;

BEGIN;

UPDATE alembic_version SET version_num='0003_covering_messages' WHERE alembic_version.version_num = '0002_message_bounds';

COMMIT;

BEGIN;

-- Running upgrade 0003_covering_messages -> 0004_food_entries

COMMIT;

SET lock_timeout = '5s';

SET statement_timeout = 0;

CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_food_entries_user_id_created_at ON food_entries (user_id, created_at DESC) INCLUDE (calories, protein_g, carbs_g, fat_g);

DO $dbtune$ BEGIN IF EXISTS (SELECT 1 FROM pg_index WHERE indexrelid = to_regclass('ix_food_entries_user_id_created_at') AND NOT indisvalid) THEN RAISE EXCEPTION USING MESSAGE = 'index ix_food_entries_user_id_created_at is INVALID (a failed build): run DROP INDEX CONCURRENTLY ix_food_entries_user_id_created_at; then apply this script again'; END IF; END $dbtune$;

RESET lock_timeout;

RESET statement_timeout;

BEGIN;

UPDATE alembic_version SET version_num='0004_food_entries' WHERE alembic_version.version_num = '0003_covering_messages';

COMMIT;

BEGIN;

-- Running upgrade 0004_food_entries -> 0005_reminders

COMMIT;

SET lock_timeout = '5s';

SET statement_timeout = 0;

CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_reminders_next_run_at_where_active ON reminders (next_run_at) WHERE active;

DO $dbtune$ BEGIN IF EXISTS (SELECT 1 FROM pg_index WHERE indexrelid = to_regclass('ix_reminders_next_run_at_where_active') AND NOT indisvalid) THEN RAISE EXCEPTION USING MESSAGE = 'index ix_reminders_next_run_at_where_active is INVALID (a failed build): run DROP INDEX CONCURRENTLY ix_reminders_next_run_at_where_active; then apply this script again'; END IF; END $dbtune$;

RESET lock_timeout;

RESET statement_timeout;

BEGIN;

COMMIT;

SET lock_timeout = '5s';

SET statement_timeout = 0;

CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_reminders_user_id_active_next_run_at ON reminders (user_id, active, next_run_at);

DO $dbtune$ BEGIN IF EXISTS (SELECT 1 FROM pg_index WHERE indexrelid = to_regclass('ix_reminders_user_id_active_next_run_at') AND NOT indisvalid) THEN RAISE EXCEPTION USING MESSAGE = 'index ix_reminders_user_id_active_next_run_at is INVALID (a failed build): run DROP INDEX CONCURRENTLY ix_reminders_user_id_active_next_run_at; then apply this script again'; END IF; END $dbtune$;

RESET lock_timeout;

RESET statement_timeout;

BEGIN;

UPDATE alembic_version SET version_num='0005_reminders' WHERE alembic_version.version_num = '0004_food_entries';

COMMIT;

BEGIN;

-- Running upgrade 0005_reminders -> 0006_tracking

COMMIT;

SET lock_timeout = '5s';

SET statement_timeout = 0;

CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_tracking_entries_user_id_category_id_created_at ON tracking_entries (user_id, category_id, created_at DESC);

DO $dbtune$ BEGIN IF EXISTS (SELECT 1 FROM pg_index WHERE indexrelid = to_regclass('ix_tracking_entries_user_id_category_id_created_at') AND NOT indisvalid) THEN RAISE EXCEPTION USING MESSAGE = 'index ix_tracking_entries_user_id_category_id_created_at is INVALID (a failed build): run DROP INDEX CONCURRENTLY ix_tracking_entries_user_id_category_id_created_at; then apply this script again'; END IF; END $dbtune$;

RESET lock_timeout;

RESET statement_timeout;

BEGIN;

COMMIT;

SET lock_timeout = '5s';

SET statement_timeout = 0;

CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_tracking_entries_category_id ON tracking_entries (category_id);

DO $dbtune$ BEGIN IF EXISTS (SELECT 1 FROM pg_index WHERE indexrelid = to_regclass('ix_tracking_entries_category_id') AND NOT indisvalid) THEN RAISE EXCEPTION USING MESSAGE = 'index ix_tracking_entries_category_id is INVALID (a failed build): run DROP INDEX CONCURRENTLY ix_tracking_entries_category_id; then apply this script again'; END IF; END $dbtune$;

RESET lock_timeout;

RESET statement_timeout;

BEGIN;

COMMIT;

SET lock_timeout = '5s';

SET statement_timeout = 0;

CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_tracking_categories_user_id ON tracking_categories (user_id);

DO $dbtune$ BEGIN IF EXISTS (SELECT 1 FROM pg_index WHERE indexrelid = to_regclass('ix_tracking_categories_user_id') AND NOT indisvalid) THEN RAISE EXCEPTION USING MESSAGE = 'index ix_tracking_categories_user_id is INVALID (a failed build): run DROP INDEX CONCURRENTLY ix_tracking_categories_user_id; then apply this script again'; END IF; END $dbtune$;

RESET lock_timeout;

RESET statement_timeout;

BEGIN;

UPDATE alembic_version SET version_num='0006_tracking' WHERE alembic_version.version_num = '0005_reminders';

COMMIT;

BEGIN;

-- Running upgrade 0006_tracking -> 0007_xp

COMMIT;

SET lock_timeout = '5s';

SET statement_timeout = 0;

CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_xp_transactions_user_id_created_at ON xp_transactions (user_id, created_at DESC);

DO $dbtune$ BEGIN IF EXISTS (SELECT 1 FROM pg_index WHERE indexrelid = to_regclass('ix_xp_transactions_user_id_created_at') AND NOT indisvalid) THEN RAISE EXCEPTION USING MESSAGE = 'index ix_xp_transactions_user_id_created_at is INVALID (a failed build): run DROP INDEX CONCURRENTLY ix_xp_transactions_user_id_created_at; then apply this script again'; END IF; END $dbtune$;

RESET lock_timeout;

RESET statement_timeout;

BEGIN;

COMMIT;

SET lock_timeout = '5s';

SET statement_timeout = 0;

CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_user_xp_total_xp ON user_xp (total_xp DESC) INCLUDE (level, user_id);

DO $dbtune$ BEGIN IF EXISTS (SELECT 1 FROM pg_index WHERE indexrelid = to_regclass('ix_user_xp_total_xp') AND NOT indisvalid) THEN RAISE EXCEPTION USING MESSAGE = 'index ix_user_xp_total_xp is INVALID (a failed build): run DROP INDEX CONCURRENTLY ix_user_xp_total_xp; then apply this script again'; END IF; END $dbtune$;

RESET lock_timeout;

RESET statement_timeout;

BEGIN;

UPDATE alembic_version SET version_num='0007_xp' WHERE alembic_version.version_num = '0006_tracking';

COMMIT;


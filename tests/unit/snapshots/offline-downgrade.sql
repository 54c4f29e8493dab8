BEGIN;

-- Running downgrade 0007_xp -> 0006_tracking

COMMIT;

SET lock_timeout = '5s';

DROP INDEX CONCURRENTLY IF EXISTS ix_user_xp_total_xp;

RESET lock_timeout;

BEGIN;

COMMIT;

SET lock_timeout = '5s';

DROP INDEX CONCURRENTLY IF EXISTS ix_xp_transactions_user_id_created_at;

RESET lock_timeout;

BEGIN;

UPDATE alembic_version SET version_num='0006_tracking' WHERE alembic_version.version_num = '0007_xp';

COMMIT;

BEGIN;

-- Running downgrade 0006_tracking -> 0005_reminders

COMMIT;

SET lock_timeout = '5s';

DROP INDEX CONCURRENTLY IF EXISTS ix_tracking_categories_user_id;

RESET lock_timeout;

BEGIN;

COMMIT;

SET lock_timeout = '5s';

DROP INDEX CONCURRENTLY IF EXISTS ix_tracking_entries_category_id;

RESET lock_timeout;

BEGIN;

COMMIT;

SET lock_timeout = '5s';

DROP INDEX CONCURRENTLY IF EXISTS ix_tracking_entries_user_id_category_id_created_at;

RESET lock_timeout;

BEGIN;

UPDATE alembic_version SET version_num='0005_reminders' WHERE alembic_version.version_num = '0006_tracking';

COMMIT;

BEGIN;

-- Running downgrade 0005_reminders -> 0004_food_entries

COMMIT;

SET lock_timeout = '5s';

DROP INDEX CONCURRENTLY IF EXISTS ix_reminders_user_id_active_next_run_at;

RESET lock_timeout;

BEGIN;

COMMIT;

SET lock_timeout = '5s';

DROP INDEX CONCURRENTLY IF EXISTS ix_reminders_next_run_at_where_active;

RESET lock_timeout;

BEGIN;

UPDATE alembic_version SET version_num='0004_food_entries' WHERE alembic_version.version_num = '0005_reminders';

COMMIT;

BEGIN;

-- Running downgrade 0004_food_entries -> 0003_covering_messages

COMMIT;

SET lock_timeout = '5s';

DROP INDEX CONCURRENTLY IF EXISTS ix_food_entries_user_id_created_at;

RESET lock_timeout;

BEGIN;

UPDATE alembic_version SET version_num='0003_covering_messages' WHERE alembic_version.version_num = '0004_food_entries';

COMMIT;

BEGIN;

-- Running downgrade 0003_covering_messages -> 0002_message_bounds

COMMIT;

SET lock_timeout = '5s';

DROP INDEX CONCURRENTLY IF EXISTS ix_conversation_history_user_id_created_at;

RESET lock_timeout;

BEGIN;

UPDATE alembic_version SET version_num='0002_message_bounds' WHERE alembic_version.version_num = '0003_covering_messages';

COMMIT;

BEGIN;

-- Running downgrade 0002_message_bounds -> 0001_baseline

COMMIT;

SET lock_timeout = '5s';

ALTER TABLE conversation_history DROP CONSTRAINT IF EXISTS ck_conversation_history_role_length;

ALTER TABLE conversation_history DROP CONSTRAINT IF EXISTS ck_conversation_history_message_type_length;

RESET lock_timeout;

BEGIN;

UPDATE alembic_version SET version_num='0001_baseline' WHERE alembic_version.version_num = '0002_message_bounds';

COMMIT;


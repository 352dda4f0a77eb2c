package migration

import (
	"slices"
	"strings"
	"testing"

	"github.com/belay-dev/belay/internal/spec"
)

// squawkCase is one of squawk's published examples: the SQL of a rule's
// documentation page (docs/docs/<rule>.md, "instead of" and "use") or of
// its rule test (crates/squawk_linter/src/rules/<rule>.rs, test <fn>), in
// github.com/sbdchd/squawk at 5125ddf5ad42c85e6ed90173ff084e9866daeb85. The
// SQL is squawk's, used as test data under its licence (Apache-2.0 OR MIT);
// no code is copied.
//
// want lists, with repeats, the rules squawk reports on the SQL under its
// default settings (PostgreSQL 15, not assuming a transaction unless
// assumeTx), restricted to the rules belay has: the case's own rule, and
// any other squawk rule that also fires (noted). squawk's style rules that
// belay lacks (prefer-robust-stmts, prefer-bigint-over-int,
// prefer-identity, require-statement-timeout, …) are left out.
// require-lock-timeout, which squawk reports on nearly every DDL example,
// is compared only in its own cases.
type squawkCase struct {
	source   string
	sql      string
	want     []string
	assumeTx bool
}

var squawkCases = []squawkCase{
	// ban-drop-column
	{"ban_drop_column.rs err", `ALTER TABLE "bar_tbl" DROP COLUMN "foo_col" CASCADE;`, []string{BanDropColumn}, false},

	// ban-drop-table
	{"ban_drop_table.rs err", `DROP TABLE "table_name";
DROP TABLE IF EXISTS "table_name";
DROP TABLE IF EXISTS "table_name"`, []string{BanDropTable, BanDropTable, BanDropTable}, false},

	// ban-drop-database
	{"ban_drop_database.rs ban_drop_database", `DROP DATABASE "table_name";
DROP DATABASE IF EXISTS "table_name";
DROP DATABASE IF EXISTS "table_name"`, []string{BanDropDatabase, BanDropDatabase, BanDropDatabase}, false},

	// ban-truncate-cascade
	{"docs ban-truncate-cascade, instead of", `truncate a cascade;`, []string{BanTruncateCascade}, false},
	{"docs ban-truncate-cascade, use", `truncate a, b;`, nil, false},
	{"ban_truncate_cascade.rs err", `truncate a, b, c cascade;`, []string{BanTruncateCascade}, false},
	{"ban_truncate_cascade.rs ok", `truncate a, b, c;
truncate a;`, nil, false},

	// renaming-column
	{"renaming_column.rs err", `ALTER TABLE "table_name" RENAME COLUMN "column_name" TO "new_column_name";`, []string{RenamingColumn}, false},

	// renaming-table
	{"renaming_table.rs err", `ALTER TABLE "table_name" RENAME TO "new_table_name";`, []string{RenamingTable}, false},
	{"docs renaming-table, view step 1", `CREATE VIEW user_favorites as SELECT * FROM user_stars;`, nil, false},
	{"docs renaming-table, view step 3 (squawk still flags the rename)", `BEGIN;
DROP VIEW user_favorites;
ALTER TABLE user_stars RENAME TO user_favorites;
COMMIT;`, []string{RenamingTable}, false},

	// changing-column-type
	{"changing_column_type.rs err", `BEGIN;
--
-- Alter field edits on recipe
--
ALTER TABLE "core_recipe" ALTER COLUMN "edits" TYPE text USING "edits"::text;
COMMIT;`, []string{ChangingColumnType}, false},
	{"changing_column_type.rs another_err", `BEGIN;
--
-- Alter field foo on recipe
--
ALTER TABLE "core_recipe" ALTER COLUMN "foo" TYPE varchar(255) USING "foo"::varchar(255);
ALTER TABLE "core_recipe" ALTER COLUMN "foo" TYPE text USING "foo"::text;
COMMIT;`, []string{ChangingColumnType, ChangingColumnType}, false},

	// ban-drop-not-null
	{"ban_drop_not_null.rs err", `ALTER TABLE "bar_tbl" ALTER COLUMN "foo_col" DROP NOT NULL;`, []string{BanDropNotNull}, false},

	// adding-required-field
	{"docs adding-required-field, problem", `ALTER TABLE "recipe" ADD COLUMN "public" boolean NOT NULL;`, []string{AddingRequiredField}, false},
	{"docs adding-required-field, allow null values initially", `ALTER TABLE "recipe" ADD COLUMN "public" boolean;`, nil, false},
	{"docs adding-required-field, set a non-volatile default", `ALTER TABLE "recipe" ADD COLUMN "public" boolean NOT NULL DEFAULT false;`, nil, false},
	{"adding_required_field.rs not_null_with_default", `ALTER TABLE "recipe" ADD COLUMN "public" boolean NOT NULL DEFAULT true;`, nil, false},
	{"adding_required_field.rs generated_stored_not_null_ok (adding-field-with-default fires)", `ALTER TABLE foo
    ADD COLUMN bar numeric GENERATED ALWAYS AS (bar + baz) STORED NOT NULL;`, []string{AddingFieldWithDefault}, false},
	{"adding_required_field.rs generated_stored_ok (adding-field-with-default fires)", ` ALTER TABLE foo
    ADD COLUMN bar numeric GENERATED ALWAYS AS (bar + baz) STORED ;`, []string{AddingFieldWithDefault}, false},

	// adding-not-nullable-field
	{"docs adding-not-nullable-field, instead of", `ALTER TABLE "recipe" ALTER COLUMN "view_count" SET NOT NULL;`, []string{AddingNotNullableField}, false},
	{"adding_not_null_field.rs set_not_null", `ALTER TABLE "core_recipe" ALTER COLUMN "foo" SET NOT NULL;`, []string{AddingNotNullableField}, false},
	{"adding_not_null_field.rs adding_field_that_is_not_nullable", `BEGIN;
-- This will cause a table rewrite for Postgres versions before 11, but that is handled by
-- adding-field-with-default.
ALTER TABLE "core_recipe" ADD COLUMN "foo" integer DEFAULT 10 NOT NULL;
ALTER TABLE "core_recipe" ALTER COLUMN "foo" DROP DEFAULT;
COMMIT;`, nil, false},
	{"adding_not_null_field.rs adding_field_that_is_not_nullable_without_default (adding-required-field fires)", `-- This won't work if the table is populated, but that error is caught by adding-required-field.
ALTER TABLE "core_recipe" ADD COLUMN "foo" integer NOT NULL;`, []string{AddingRequiredField}, false},
	{"adding_not_null_field.rs adding_field_that_is_not_nullable_in_version_11", `BEGIN;
--
-- Add field foo to recipe
--
ALTER TABLE "core_recipe" ADD COLUMN "foo" integer NOT NULL DEFAULT 10;
COMMIT;`, nil, false},
	{"adding_not_null_field.rs regression_gh_issue_519", `BEGIN;
-- Running upgrade a -> b
ALTER TABLE my_table ALTER COLUMN my_column SET NOT NULL;
UPDATE alembic_version SET version_num='b' WHERE alembic_version.version_num = 'a';
COMMIT;`, []string{AddingNotNullableField}, false},
	{"adding_not_null_field.rs regression_gh_issue_628_pg16_with_validated_check_ok", `BEGIN;
ALTER TABLE foo ADD COLUMN bar BIGINT;
ALTER TABLE foo ADD CONSTRAINT bar_not_null CHECK (bar IS NOT NULL) NOT VALID;
COMMIT;

BEGIN;
ALTER TABLE foo VALIDATE CONSTRAINT bar_not_null;
ALTER TABLE foo ALTER COLUMN bar SET NOT NULL;
ALTER TABLE foo DROP CONSTRAINT bar_not_null;
COMMIT;`, nil, false},
	{"adding_not_null_field.rs pg12_without_validated_check_err", `ALTER TABLE foo ALTER COLUMN bar SET NOT NULL;`, []string{AddingNotNullableField}, false},
	{"adding_not_null_field.rs pg12_with_check_but_not_validated_err", `ALTER TABLE foo ADD CONSTRAINT bar_not_null CHECK (bar IS NOT NULL) NOT VALID;
ALTER TABLE foo ALTER COLUMN bar SET NOT NULL;`, []string{AddingNotNullableField}, false},
	{"adding_not_null_field.rs pg16_cross_migration_validate_then_set_not_null_ok", `ALTER TABLE foo VALIDATE CONSTRAINT foo_bar_not_null;

ALTER TABLE foo
ALTER COLUMN bar
SET NOT NULL;

ALTER TABLE foo
DROP CONSTRAINT foo_bar_not_null;`, nil, false},
	{"adding_not_null_field.rs pg12_with_different_column_validated_err", `ALTER TABLE foo ADD CONSTRAINT baz_not_null CHECK (baz IS NOT NULL) NOT VALID;
ALTER TABLE foo VALIDATE CONSTRAINT baz_not_null;
ALTER TABLE foo ALTER COLUMN bar SET NOT NULL;`, []string{AddingNotNullableField}, false},

	// adding-field-with-default (belay assumes PostgreSQL 11 or later, so
	// docs_example_error_on_pg_11 is not a case)
	{"docs adding-field-with-default, non-volatile default in Postgres 11+", `ALTER TABLE "core_recipe" ADD COLUMN "foo" integer DEFAULT 10 NOT NULL;`, nil, false},
	{"docs adding-field-with-default, adding a volatile default (adding-not-nullable-field fires on its SET NOT NULL)", `ALTER TABLE "core_recipe" ADD COLUMN "foo" integer;
ALTER TABLE "core_recipe" ALTER COLUMN "foo" SET DEFAULT 10;
-- backfill column in batches
ALTER TABLE "core_recipe" ALTER COLUMN "foo" SET NOT NULL;`, []string{AddingNotNullableField}, false},
	{"docs adding-field-with-default, generated column, instead of", `ALTER TABLE "core_recipe" ADD COLUMN "foo" integer GENERATED ALWAYS as ("bar" + "baz") STORED;`, []string{AddingFieldWithDefault}, false},
	{"docs adding-field-with-default, generated column, use", `ALTER TABLE "core_recipe" ADD COLUMN "foo" integer;

-- backfill column in batches

-- add a trigger to match the generated column behavior
CREATE FUNCTION foo_update_trigger()
RETURNS trigger AS '
BEGIN
NEW.foo := NEW.bar + NEW.baz;
RETURN NEW;
END' LANGUAGE 'plpgsql';

CREATE TRIGGER update_foo_column
BEFORE INSERT ON core_recipe
FOR EACH ROW
EXECUTE PROCEDURE foo_update_trigger();`, nil, false},
	{"adding_field_with_default.rs docs_example_ok_post_pg_11", `-- instead of
ALTER TABLE "core_recipe" ADD COLUMN "foo" integer DEFAULT 10;`, nil, false},
	{"adding_field_with_default.rs docs_example_ok", `-- use
ALTER TABLE "core_recipe" ADD COLUMN "foo" integer;
ALTER TABLE "core_recipe" ALTER COLUMN "foo" SET DEFAULT 10;
-- backfill
-- remove nullability`, nil, false},
	{"adding_field_with_default.rs default_uuid_error_multi_stmt", `alter table t set logged, add column c integer default uuid();`, []string{AddingFieldWithDefault}, false},
	{"adding_field_with_default.rs default_uuid_error", `ALTER TABLE "core_recipe" ADD COLUMN "foo" integer DEFAULT uuid();`, []string{AddingFieldWithDefault}, false},
	{"adding_field_with_default.rs default_volatile_func_err", `    -- VOLATILE
ALTER TABLE "core_recipe" ADD COLUMN "foo" boolean DEFAULT random();`, []string{AddingFieldWithDefault}, false},
	{"adding_field_with_default.rs default_bool_ok", `    -- NON-VOLATILE
ALTER TABLE "core_recipe" ADD COLUMN "foo" boolean DEFAULT true;`, nil, false},
	{"adding_field_with_default.rs default_empty_array_ok", `alter table t add column a double precision[] default array[]::double precision[];

alter table t add column b bigint[] default cast(array[] as bigint[]);

alter table t add column c text[] default array['foo', 'bar']::text[];`, nil, false},
	{"adding_field_with_default.rs default_with_const_bin_expr", `ALTER TABLE assessments
ADD COLUMN statistics_last_updated_at timestamptz NOT NULL DEFAULT now() - interval '100 years';`, nil, false},
	{"adding_field_with_default.rs default_str_ok", `-- NON-VOLATILE
ALTER TABLE "core_recipe" ADD COLUMN "foo" text DEFAULT 'some-str';`, nil, false},
	{"adding_field_with_default.rs default_enum_ok", `-- NON-VOLATILE
ALTER TABLE "core_recipe" ADD COLUMN "foo" some_enum_type DEFAULT 'my-enum-variant';`, nil, false},
	{"adding_field_with_default.rs default_jsonb_ok", `-- NON-VOLATILE
ALTER TABLE "core_recipe" ADD COLUMN "foo" jsonb DEFAULT '{}'::jsonb;`, nil, false},
	{"adding_field_with_default.rs arbitrary_func_err", `-- NON-VOLATILE
ALTER TABLE "core_recipe" ADD COLUMN "foo" jsonb DEFAULT myjsonb();`, []string{AddingFieldWithDefault}, false},
	{"adding_field_with_default.rs default_random_with_args_err", `-- NON-VOLATILE
ALTER TABLE "core_recipe" ADD COLUMN "foo" timestamptz DEFAULT now(123);`, []string{AddingFieldWithDefault}, false},
	{"adding_field_with_default.rs default_func_now_ok", `-- NON-VOLATILE
ALTER TABLE "core_recipe" ADD COLUMN "foo" timestamptz DEFAULT now();`, nil, false},
	{"adding_field_with_default.rs default_func_current_timestamp_ok", `alter table t add column c timestamptz default current_timestamp;`, nil, false},
	{"adding_field_with_default.rs add_numbers_ok", `alter table account_metadata add column blah integer default 2 + 2;`, nil, false},
	{"adding_field_with_default.rs generated_stored_err", `ALTER TABLE foo
ADD COLUMN bar numeric GENERATED ALWAYS AS (bar + baz) STORED;`, []string{AddingFieldWithDefault}, false},

	// require-concurrent-index-creation
	{"docs require-concurrent-index-creation, instead of", `-- blocks writes to table while index is built
CREATE INDEX "email_idx" ON "app_user" ("email");`, []string{RequireConcurrentIndexCreation}, false},
	{"docs require-concurrent-index-creation, use", `-- allows reads and writes while index is built
CREATE INDEX CONCURRENTLY "email_idx" ON "app_user" ("email");`, nil, false},
	{"require_concurrent_index_creation.rs adding_index_non_concurrently_err", `-- instead of
CREATE INDEX "field_name_idx" ON "table_name" ("field_name");`, []string{RequireConcurrentIndexCreation}, false},
	{"require_concurrent_index_creation.rs new_table_ok", `BEGIN;
CREATE TABLE "core_foo" (
"id" serial NOT NULL PRIMARY KEY,
"tenant_id" integer NULL
);
CREATE INDEX "core_foo_tenant_id_4d397ef9" ON "core_foo" ("tenant_id");
COMMIT;`, nil, false},
	{"require_concurrent_index_creation.rs new_table_in_assume_transaction_ok", `CREATE TABLE "core_foo" (
"id" serial NOT NULL PRIMARY KEY,
"tenant_id" integer NULL
);
CREATE INDEX "core_foo_tenant_id_4d397ef9" ON "core_foo" ("tenant_id");`, nil, true},

	// require-concurrent-index-deletion
	{"docs require-concurrent-index-deletion, instead of", `-- blocks reads and writes to table
DROP INDEX "app"."email_idx";`, []string{RequireConcurrentIndexDeletion}, false},
	{"docs require-concurrent-index-deletion, use", `-- allows reads and writes to table while Postgres waits for conflicting transactions to finish
DROP INDEX CONCURRENTLY "app"."email_idx";`, nil, false},
	{"require_concurrent_index_deletion.rs drop_index_missing_concurrently_err", `  -- instead of
  DROP INDEX IF EXISTS "field_name_idx";`, []string{RequireConcurrentIndexDeletion}, false},
	{"require_concurrent_index_deletion.rs regression_false_positive_drop_table_ok (ban-drop-table fires)", `DROP TABLE IF EXISTS some_table;`, []string{BanDropTable}, false},
	{"require_concurrent_index_deletion.rs regression_false_positive_drop_trigger_ok", `DROP TRIGGER IF EXISTS trigger on foo_table;`, nil, false},

	// constraint-missing-not-valid
	{"docs constraint-missing-not-valid, instead of", `ALTER TABLE "accounts" ADD CONSTRAINT "positive_balance" CHECK ("balance" >= 0);`, []string{ConstraintMissingNotValid}, false},
	{"docs constraint-missing-not-valid, use", `ALTER TABLE "accounts" ADD CONSTRAINT "positive_balance" CHECK ("balance" >= 0) NOT VALID;
ALTER TABLE accounts VALIDATE CONSTRAINT positive_balance;`, nil, false},
	{"constraint_missing_not_valid.rs not_valid_validate_transaction_err", `BEGIN;
ALTER TABLE "app_email" ADD CONSTRAINT "fk_user" FOREIGN KEY (user_id) REFERENCES "app_user" (id) NOT VALID;
ALTER TABLE "app_email" VALIDATE CONSTRAINT "fk_user";
COMMIT;`, []string{ConstraintMissingNotValid}, false},
	{"constraint_missing_not_valid.rs not_valid_validate_assume_transaction_err", `ALTER TABLE "app_email" ADD CONSTRAINT "fk_user" FOREIGN KEY (user_id) REFERENCES "app_user" (id) NOT VALID;
ALTER TABLE "app_email" VALIDATE CONSTRAINT "fk_user";`, []string{ConstraintMissingNotValid}, true},
	{"constraint_missing_not_valid.rs not_valid_validate_with_assume_in_transaction_with_explicit_commit_err", `ALTER TABLE "app_email" ADD CONSTRAINT "fk_user" FOREIGN KEY (user_id) REFERENCES "app_user" (id) NOT VALID;
ALTER TABLE "app_email" VALIDATE CONSTRAINT "fk_user";
COMMIT;`, []string{ConstraintMissingNotValid}, true},
	{"constraint_missing_not_valid.rs adding_fk_err (adding-foreign-key-constraint fires)", `-- instead of
ALTER TABLE distributors ADD CONSTRAINT distfk FOREIGN KEY (address) REFERENCES addresses (address);`, []string{ConstraintMissingNotValid, AddingForeignKeyConstraint}, false},
	{"constraint_missing_not_valid.rs adding_fk_not_valid_ok", `-- use ` + "`NOT VALID`" + `
ALTER TABLE distributors ADD CONSTRAINT distfk FOREIGN KEY (address) REFERENCES addresses (address) NOT VALID;
ALTER TABLE distributors VALIDATE CONSTRAINT distfk;`, nil, false},
	{"constraint_missing_not_valid.rs adding_using_index_ok", `ALTER TABLE account ADD CONSTRAINT account_pk PRIMARY KEY USING INDEX account_pk_idx;`, nil, false},
	{"constraint_missing_not_valid.rs adding_check_constraint_err", `-- instead of
ALTER TABLE "accounts" ADD CONSTRAINT "positive_balance" CHECK ("balance" >= 0);`, []string{ConstraintMissingNotValid}, true},
	{"constraint_missing_not_valid.rs new_table_with_transaction_ok", `BEGIN;
CREATE TABLE "core_foo" (
"id" serial NOT NULL PRIMARY KEY,
"age" integer NOT NULL
);
ALTER TABLE "core_foo" ADD CONSTRAINT "age_restriction" CHECK ("age" >= 25);
COMMIT;`, nil, false},
	{"constraint_missing_not_valid.rs new_table_assume_transaction_ok", `CREATE TABLE "core_foo" (
"id" serial NOT NULL PRIMARY KEY,
"age" integer NOT NULL
);
ALTER TABLE "core_foo" ADD CONSTRAINT "age_restriction" CHECK ("age" >= 25);`, nil, true},
	{"constraint_missing_not_valid.rs using_unique_index_ok", `ALTER TABLE "app_email" ADD CONSTRAINT "email_uniq" UNIQUE USING INDEX "email_idx";`, nil, false},

	// adding-foreign-key-constraint
	{"docs adding-foreign-key-constraint, existing table, instead of (constraint-missing-not-valid fires)", `-- blocks writes to "email" and "user" while Postgres checks rows in "email" have user_id mapping to "user".id (slow)
ALTER TABLE "email" ADD CONSTRAINT "fk_user"
    FOREIGN KEY ("user_id") REFERENCES "user" ("id");`, []string{ConstraintMissingNotValid, AddingForeignKeyConstraint}, false},
	{"docs adding-foreign-key-constraint, existing table, use", `-- blocks writes to "email" and "user" while Postgres updates table schema (fast)
ALTER TABLE "email" ADD CONSTRAINT "fk_user"
    FOREIGN KEY ("user_id") REFERENCES "user" ("id") NOT VALID;
-- non-blocking while existing rows are checked.
ALTER TABLE "email" VALIDATE CONSTRAINT "fk_user";`, nil, false},
	{"docs adding-foreign-key-constraint, new table, in create table", `-- blocks writes to "user" while Postgres updates table schema.
CREATE TABLE email (
    id BIGINT GENERATED ALWAYS AS IDENTITY,
    user_id BIGINT,
    email TEXT,
    PRIMARY KEY(id),
    CONSTRAINT fk_user
        FOREIGN KEY ("user_id")
        REFERENCES "user" ("id")
);`, nil, false},
	{"docs adding-foreign-key-constraint, new table, not valid … validate", `-- no references to lock.
CREATE TABLE email (
    id BIGINT GENERATED ALWAYS AS IDENTITY,
    user_id BIGINT,
    email TEXT,
    PRIMARY KEY(id)
);

-- blocks writes to "email" and "user" while Postgres updates table schema (fast)
ALTER TABLE "email" ADD CONSTRAINT "fk_user"
    FOREIGN KEY ("user_id") REFERENCES "user" ("id") NOT VALID;
-- non-blocking while existing rows are checked.
ALTER TABLE "email" VALIDATE CONSTRAINT "fk_user";`, nil, false},
	{"adding_foreign_key_constraint.rs create_table_with_column_references", `CREATE TABLE table_name (
    id BIGSERIAL NOT NULL,
    my_fk_id INTEGER NOT NULL REFERENCES other_table (id) ON DELETE CASCADE
);`, nil, false},
	{"adding_foreign_key_constraint.rs alter_table_foreign_key_assume_transaction", `CREATE TABLE "emails" ("id" UUID NOT NULL, "user_id" UUID NOT NULL);
ALTER TABLE "emails" ADD CONSTRAINT "fk_user" FOREIGN KEY ("user_id") REFERENCES "users" ("id");`, nil, true},
	{"adding_foreign_key_constraint.rs alter_table_foreign_key_in_transaction", `BEGIN;
CREATE TABLE "emails" ("id" UUID NOT NULL, "user_id" UUID NOT NULL);
ALTER TABLE "emails" ADD CONSTRAINT "fk_user" FOREIGN KEY ("user_id") REFERENCES "users" ("id");
COMMIT;`, nil, false},
	{"adding_foreign_key_constraint.rs add_foreign_key_constraint_not_valid_validate (constraint-missing-not-valid fires: same transaction)", `BEGIN;
ALTER TABLE "email" ADD COLUMN "user_id" INT;
ALTER TABLE "email" ADD CONSTRAINT "fk_user" FOREIGN KEY ("user_id") REFERENCES "user" ("id") NOT VALID;
ALTER TABLE "email" VALIDATE CONSTRAINT "fk_user";
COMMIT;`, []string{ConstraintMissingNotValid}, false},
	{"adding_foreign_key_constraint.rs add_foreign_key_constraint_lock (constraint-missing-not-valid fires)", `BEGIN;
ALTER TABLE "email" ADD COLUMN "user_id" INT;
ALTER TABLE "email" ADD CONSTRAINT "fk_user" FOREIGN KEY ("user_id") REFERENCES "user" ("id");
COMMIT;`, []string{ConstraintMissingNotValid, AddingForeignKeyConstraint}, false},
	{"adding_foreign_key_constraint.rs add_column_references_lock", `BEGIN;
ALTER TABLE "emails" ADD COLUMN "user_id" INT REFERENCES "user" ("id");
COMMIT;`, []string{AddingForeignKeyConstraint}, false},

	// disallowed-unique-constraint (the page's second "instead of", ADD
	// COLUMN dist_id text CONSTRAINT dist_id_uniq UNIQUE (dist_id), is not
	// PostgreSQL: a column constraint takes no column list, and PostgreSQL's
	// parser rejects it; the inline-UNIQUE tests below stand for it)
	{"docs disallowed-unique-constraint, instead of (constraint-missing-not-valid fires)", `-- blocks reads and writes to table_name while constraint is validated.
ALTER TABLE distributors ADD CONSTRAINT dist_id_uniq UNIQUE (dist_id);`, []string{ConstraintMissingNotValid, DisallowedUniqueConstraint}, false},
	{"docs disallowed-unique-constraint, use", `-- allows reads and writes while index is built
CREATE UNIQUE INDEX CONCURRENTLY dist_id_uniq ON distributors (dist_id);
-- add constraint using the built index
ALTER TABLE distributors ADD CONSTRAINT distributors_dist_id_key UNIQUE USING INDEX dist_id_uniq;`, nil, false},
	{"docs disallowed-unique-constraint, new column, use", `-- add nullable column separately to prevent blocking read/writes.
ALTER TABLE distributors ADD COLUMN dist_id text;
-- allows reads and writes while index is built
CREATE UNIQUE INDEX CONCURRENTLY dist_id_uniq ON distributors (dist_id);
-- add constraint using the built index
ALTER TABLE distributors ADD CONSTRAINT distributors_dist_id_key UNIQUE USING INDEX dist_id_uniq;`, nil, false},
	{"disallow_unique_constraint.rs ok", `ALTER TABLE table_name DROP CONSTRAINT field_name_constraint;`, nil, false},
	{"disallow_unique_constraint.rs also_ok", `CREATE UNIQUE INDEX CONCURRENTLY dist_id_temp_idx ON distributors (dist_id);
ALTER TABLE distributors DROP CONSTRAINT distributors_pkey,
ADD CONSTRAINT distributors_pkey PRIMARY KEY USING INDEX dist_id_temp_idx;`, nil, false},
	{"disallow_unique_constraint.rs unique_constraint_ok", `CREATE UNIQUE INDEX CONCURRENTLY "legacy_questiongrouppg_mongo_id_1f8f47d9_uniq_idx"
    ON "legacy_questiongrouppg" ("mongo_id");
ALTER TABLE "legacy_questiongrouppg" ADD CONSTRAINT "legacy_questiongrouppg_mongo_id_1f8f47d9_uniq" UNIQUE USING INDEX "legacy_questiongrouppg_mongo_id_1f8f47d9_uniq_idx";`, nil, false},
	{"disallow_unique_constraint.rs unique_constraint_after_create_table", `BEGIN;
CREATE TABLE products (
    id bigint generated by default as identity primary key,
    sku text not null
);
ALTER TABLE products ADD CONSTRAINT sku_constraint UNIQUE (sku);
COMMIT;`, nil, false},
	{"disallow_unique_constraint.rs unique_constraint_after_create_table_with_assume_in_transaction", `CREATE TABLE products (
    id bigint generated by default as identity primary key,
    sku text not null
);
ALTER TABLE products ADD CONSTRAINT sku_constraint UNIQUE (sku);`, nil, true},
	{"disallow_unique_constraint.rs unique_constraint_inline_add_column_err", `ALTER TABLE foo ADD COLUMN bar text CONSTRAINT foo_bar_unique UNIQUE;`, []string{DisallowedUniqueConstraint}, false},
	{"disallow_unique_constraint.rs unique_constraint_inline_add_column_unique_err", `ALTER TABLE foo ADD COLUMN bar text UNIQUE;`, []string{DisallowedUniqueConstraint}, false},

	// adding-serial-primary-key-field
	{"docs adding-serial-primary-key-field, instead of (constraint-missing-not-valid fires)", `-- blocks reads and writes to "account" table while constraint is added.
ALTER TABLE account ADD PRIMARY KEY (id);`, []string{ConstraintMissingNotValid, AddingSerialPrimaryKeyField}, false},
	{"docs adding-serial-primary-key-field, use", `-- allows reads and writes while index is built
CREATE UNIQUE INDEX CONCURRENTLY account_pk_idx ON account (id);
-- blocks reads and writes while table schema is updated (fast)
ALTER TABLE account ADD CONSTRAINT account_pk PRIMARY KEY USING INDEX account_pk_idx;`, nil, false},
	{"adding_primary_key_constraint.rs serial_primary_key", `        ALTER TABLE a ADD COLUMN b SERIAL PRIMARY KEY;`, []string{AddingSerialPrimaryKeyField}, false},

	// require-lock-timeout (compared in these cases only)
	{"docs require-lock-timeout, error", `-- error, missing lock timeout
alter table t add column c boolean;`, []string{RequireLockTimeout}, false},
	{"docs require-lock-timeout, ok", `-- ok, lock timeout configured before ddl operations
set lock_timeout = '1s';
alter table t add column c boolean;`, nil, false},
	{"require_timeout_settings.rs err_missing_lock_timeout", `SET statement_timeout = '5s';
ALTER TABLE t ADD COLUMN c BOOLEAN;`, []string{RequireLockTimeout}, false},
	{"require_timeout_settings.rs ok_both_timeouts_present_casing", `SET Lock_Timeout = '1s';
SET Statement_Timeout = '5s';
ALTER TABLE t ADD COLUMN c BOOLEAN;`, nil, false},
	{"require_timeout_settings.rs ok_no_ddl_operations", `SELECT * FROM t;`, nil, false},
	{"require_timeout_settings.rs err_timeouts_using_schema", `SET foo.lock_timeout = '1s';
SET foo.statement_timeout = '5s';
ALTER TABLE t ADD COLUMN c BOOLEAN;`, []string{RequireLockTimeout}, false},
	{"require_timeout_settings.rs err_timeouts_after_ddl", `ALTER TABLE t ADD COLUMN c BOOLEAN;
SET lock_timeout = '1s';
SET statement_timeout = '5s';`, []string{RequireLockTimeout}, false},
	{"require_timeout_settings.rs err_other_ddl_operations", `CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');`, []string{RequireLockTimeout}, false},
	{"require_timeout_settings.rs err_comment_on_explains_lock_impact", `COMMENT ON COLUMN t.c IS 'an opaque id';`, []string{RequireLockTimeout}, false},
	{"require_timeout_settings.rs err_reindex_concurrently_false_uses_non_concurrent_lock", `REINDEX (CONCURRENTLY false) INDEX idx;`, []string{RequireLockTimeout}, false},
	{"require_timeout_settings.rs err_vacuum_full_false_uses_non_full_lock", `VACUUM (FULL false) t;`, []string{RequireLockTimeout}, false},
	{"require_timeout_settings.rs err_lock_access_share_uses_correct_article", `LOCK TABLE t IN ACCESS SHARE MODE;`, []string{RequireLockTimeout}, false},
	{"require_timeout_settings.rs ok_other_ddl_with_timeouts", `SET lock_timeout = '1s';
SET statement_timeout = '5s';
CREATE FUNCTION add(integer, integer) RETURNS integer
    AS 'select $1 + $2;'
    LANGUAGE SQL;`, nil, false},
	{"require_timeout_settings.rs fix_multiple_ddl_statements", `CREATE TABLE users (id SERIAL);
ALTER TABLE users ADD COLUMN email TEXT;`, []string{RequireLockTimeout}, false},
	{"analyze.rs create_table_without_foreign_key", `create table foo (id integer generated by default as identity primary key);`, nil, false},
}

// aboutLockTimeout reports whether the case comes from require-lock-timeout's
// page or tests (squawk's require_timeout_settings.rs and analyze.rs).
func (c squawkCase) aboutLockTimeout() bool {
	return strings.HasPrefix(c.source, "docs require-lock-timeout") ||
		strings.HasPrefix(c.source, "require_timeout_settings.rs") || strings.HasPrefix(c.source, "analyze.rs")
}

// TestSquawkCases checks that belay flags what squawk flags on squawk's own
// examples, and blocks none that squawk passes.
func TestSquawkCases(t *testing.T) {
	for _, c := range squawkCases {
		t.Run(c.source, func(t *testing.T) {
			opt := Options{AssumeInTransaction: c.assumeTx}
			rep, err := CheckWith([]File{{Name: "case.sql", SQL: c.sql}}, opt)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range rep.Findings {
				if f.Severity != Error || f.Rule == RequireLockTimeout && !c.aboutLockTimeout() {
					continue
				}
				got = append(got, f.Rule)
			}
			want := slices.Clone(c.want)
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("belay flags %v, squawk %v\n%s", got, want, c.sql)
			}
			if len(c.want) > 0 {
				return
			}
			// squawk passes it: with lock_timeout set, belay must not block it.
			rep, err = CheckWith([]File{{Name: "case.sql", SQL: "SET lock_timeout = '1s';\n" + c.sql}}, opt)
			if err != nil {
				t.Fatal(err)
			}
			if rep.MigrationType == spec.Contract {
				t.Errorf("belay blocks what squawk passes: %+v", rep.Findings)
			}
		})
	}
}

// Every rule belay shares with squawk has a case squawk flags and, but for
// the rules that ban a statement outright, one it passes.
func TestSquawkCasesCoverEveryRule(t *testing.T) {
	flagged := map[string]bool{}
	for _, c := range squawkCases {
		for _, r := range c.want {
			flagged[r] = true
		}
	}
	for _, r := range Rules() {
		if r.ID == UnbatchedDataChange { // belay's own; squawk has no such rule
			continue
		}
		if !flagged[r.ID] {
			t.Errorf("no squawk case flags %s", r.ID)
		}
	}
}

package migration

import (
	"fmt"

	pg "github.com/pganalyze/pg_query_go/v6"
)

// fileState is what the rules remember while reading one file in order.
type fileState struct {
	assumeTx bool
	inTx     bool
	created  map[string]bool // tables created inside a transaction: empty, so safe to index or constrain
	notValid map[string]bool // constraints added NOT VALID in the current transaction

	lockTimeout  bool // a non-zero lock_timeout is in force
	lockLocal    bool // … set by SET LOCAL, so only until the transaction ends
	lockReported bool // require-lock-timeout is reported once per file

	notNullChecks  map[string]tableColumn // NOT VALID CHECK (col IS NOT NULL) constraints, by name
	notNullProven  map[tableColumn]bool   // … that were validated
	validatedTable map[string]bool        // tables with a constraint validated that was added in an earlier file
}

type tableColumn struct{ table, column string }

func newFileState(opt Options) *fileState {
	return &fileState{
		assumeTx: opt.AssumeInTransaction, inTx: opt.AssumeInTransaction,
		created: map[string]bool{}, notValid: map[string]bool{},
		notNullChecks: map[string]tableColumn{}, notNullProven: map[tableColumn]bool{}, validatedTable: map[string]bool{},
	}
}

// check runs every rule on one statement, in file order.
func (st *fileState) check(n *pg.Node) []hit {
	var hits []hit
	if takesLock(n) && !st.lockTimeout && !st.lockReported {
		st.lockReported = true
		hits = append(hits, hit{rule: RequireLockTimeout})
	}
	switch {
	case n.GetTransactionStmt() != nil:
		st.transaction(n.GetTransactionStmt())
	case n.GetVariableSetStmt() != nil:
		st.set(n.GetVariableSetStmt())
	case n.GetCreateStmt() != nil:
		if st.inTx && n.GetCreateStmt().Relation != nil {
			st.created[n.GetCreateStmt().Relation.Relname] = true
		}
	case n.GetAlterTableStmt() != nil:
		hits = append(hits, st.alterTable(n.GetAlterTableStmt())...)
	case n.GetIndexStmt() != nil:
		ix := n.GetIndexStmt()
		if !ix.Concurrent && ix.Relation != nil && !st.created[ix.Relation.Relname] {
			hits = append(hits, hit{rule: RequireConcurrentIndexCreation})
		}
	case n.GetDropStmt() != nil:
		switch d := n.GetDropStmt(); {
		case d.RemoveType == pg.ObjectType_OBJECT_TABLE:
			hits = append(hits, hit{rule: BanDropTable})
		case d.RemoveType == pg.ObjectType_OBJECT_INDEX && !d.Concurrent:
			hits = append(hits, hit{rule: RequireConcurrentIndexDeletion})
		}
	case n.GetDropdbStmt() != nil:
		hits = append(hits, hit{rule: BanDropDatabase})
	case n.GetRenameStmt() != nil:
		switch n.GetRenameStmt().RenameType {
		case pg.ObjectType_OBJECT_COLUMN:
			hits = append(hits, hit{rule: RenamingColumn})
		case pg.ObjectType_OBJECT_TABLE:
			hits = append(hits, hit{rule: RenamingTable})
		}
	case n.GetTruncateStmt() != nil:
		if n.GetTruncateStmt().Behavior == pg.DropBehavior_DROP_CASCADE {
			hits = append(hits, hit{rule: BanTruncateCascade})
		}
	case n.GetUpdateStmt() != nil:
		if n.GetUpdateStmt().WhereClause == nil {
			hits = append(hits, hit{rule: UnbatchedDataChange})
		}
	case n.GetDeleteStmt() != nil:
		if n.GetDeleteStmt().WhereClause == nil {
			hits = append(hits, hit{rule: UnbatchedDataChange})
		}
	}
	return hits
}

func (st *fileState) transaction(t *pg.TransactionStmt) {
	switch t.Kind {
	case pg.TransactionStmtKind_TRANS_STMT_BEGIN, pg.TransactionStmtKind_TRANS_STMT_START:
		if !st.inTx {
			clear(st.notValid)
		}
		st.inTx = true
	case pg.TransactionStmtKind_TRANS_STMT_COMMIT, pg.TransactionStmtKind_TRANS_STMT_ROLLBACK:
		st.inTx = false
		if st.lockLocal {
			st.lockTimeout, st.lockLocal = false, false
		}
	}
}

// set follows lock_timeout: SET to a non-zero value arms it (SET LOCAL
// until the transaction ends, and only inside one); SET to 0, SET … TO
// DEFAULT and RESET disarm it (PostgreSQL's default is no timeout).
func (st *fileState) set(v *pg.VariableSetStmt) {
	switch {
	case v.Kind == pg.VariableSetKind_VAR_RESET_ALL:
		st.lockTimeout, st.lockLocal = false, false
	case v.Name != "lock_timeout":
	case v.Kind == pg.VariableSetKind_VAR_SET_VALUE:
		st.lockTimeout = !isZero(v.Args) && (st.inTx || !v.IsLocal)
		st.lockLocal = st.lockTimeout && v.IsLocal
	case v.Kind == pg.VariableSetKind_VAR_SET_DEFAULT, v.Kind == pg.VariableSetKind_VAR_RESET:
		st.lockTimeout, st.lockLocal = false, false
	}
}

func isZero(args []*pg.Node) bool {
	if len(args) != 1 || args[0].GetAConst() == nil {
		return false
	}
	c := args[0].GetAConst()
	switch {
	case c.GetIval() != nil:
		return c.GetIval().Ival == 0
	case c.GetSval() != nil:
		s := c.GetSval().Sval
		return s == "0" || s == "0ms" || s == "0s"
	}
	return false
}

func (st *fileState) alterTable(a *pg.AlterTableStmt) []hit {
	if a.Relation == nil {
		return nil
	}
	table := a.Relation.Relname
	var hits []hit
	for _, c := range a.Cmds {
		cmd := c.GetAlterTableCmd()
		if cmd == nil {
			continue
		}
		switch cmd.Subtype {
		case pg.AlterTableType_AT_AddColumn:
			hits = append(hits, addColumn(cmd.Def.GetColumnDef())...)
		case pg.AlterTableType_AT_DropColumn:
			hits = append(hits, hit{rule: BanDropColumn})
		case pg.AlterTableType_AT_AlterColumnType:
			hits = append(hits, hit{rule: ChangingColumnType})
		case pg.AlterTableType_AT_DropNotNull:
			hits = append(hits, hit{rule: BanDropNotNull})
		case pg.AlterTableType_AT_SetNotNull:
			if !st.notNullProven[tableColumn{table, cmd.Name}] && !st.validatedTable[table] {
				hits = append(hits, hit{rule: AddingNotNullableField})
			}
		case pg.AlterTableType_AT_AddConstraint:
			hits = append(hits, st.addConstraint(table, cmd.Def.GetConstraint())...)
		case pg.AlterTableType_AT_ValidateConstraint:
			hits = append(hits, st.validate(table, cmd.Name)...)
		}
	}
	return hits
}

// addColumn checks a column added to an existing table. A table created
// in the same file gets columns from CREATE TABLE, not from ADD COLUMN, so
// these rules do not look at st.created (nor does squawk).
func addColumn(def *pg.ColumnDef) []hit {
	if def == nil {
		return nil
	}
	var hits []hit
	var notNull, hasDefault, generated bool
	for _, cn := range def.Constraints {
		c := cn.GetConstraint()
		if c == nil {
			continue
		}
		switch c.Contype {
		case pg.ConstrType_CONSTR_NOTNULL:
			notNull = true
		case pg.ConstrType_CONSTR_DEFAULT:
			hasDefault = true
			if !nonVolatile(c.RawExpr) {
				hits = append(hits, hit{rule: AddingFieldWithDefault, detail: fmt.Sprintf("The default of column %s may be volatile.", def.Colname)})
			}
		case pg.ConstrType_CONSTR_GENERATED, pg.ConstrType_CONSTR_IDENTITY:
			generated = true
			hits = append(hits, hit{rule: AddingFieldWithDefault, detail: fmt.Sprintf("Column %s is generated.", def.Colname)})
		case pg.ConstrType_CONSTR_FOREIGN:
			hits = append(hits, hit{rule: AddingForeignKeyConstraint})
		case pg.ConstrType_CONSTR_UNIQUE:
			hits = append(hits, hit{rule: DisallowedUniqueConstraint})
		case pg.ConstrType_CONSTR_PRIMARY:
			hits = append(hits, hit{rule: AddingSerialPrimaryKeyField})
		}
	}
	if notNull && !hasDefault && !generated {
		hits = append(hits, hit{rule: AddingRequiredField})
	}
	return hits
}

func (st *fileState) addConstraint(table string, c *pg.Constraint) []hit {
	if c == nil {
		return nil
	}
	if c.SkipValidation && c.Conname != "" {
		st.notValid[c.Conname] = true
		if col, ok := notNullCheck(c); ok {
			st.notNullChecks[c.Conname] = tableColumn{table, col}
		}
	}
	var hits []hit
	existing := !st.created[table]
	usingIndex := c.Indexname != ""
	if existing && !c.SkipValidation && !usingIndex {
		hits = append(hits, hit{rule: ConstraintMissingNotValid})
	}
	switch c.Contype {
	case pg.ConstrType_CONSTR_FOREIGN:
		if existing && !c.SkipValidation {
			hits = append(hits, hit{rule: AddingForeignKeyConstraint})
		}
	case pg.ConstrType_CONSTR_UNIQUE:
		if existing && !usingIndex {
			hits = append(hits, hit{rule: DisallowedUniqueConstraint})
		}
	case pg.ConstrType_CONSTR_PRIMARY:
		if !usingIndex {
			hits = append(hits, hit{rule: AddingSerialPrimaryKeyField})
		}
	}
	return hits
}

// validate checks VALIDATE CONSTRAINT: in the transaction that added the
// constraint NOT VALID, it holds that transaction's lock for the whole scan.
func (st *fileState) validate(table, name string) []hit {
	if tc, ok := st.notNullChecks[name]; ok && tc.table == table {
		st.notNullProven[tc] = true
	} else if !st.notValid[name] {
		st.validatedTable[table] = true // added NOT VALID by an earlier migration
	}
	if st.inTx && st.notValid[name] {
		return []hit{{rule: ConstraintMissingNotValid, detail: fmt.Sprintf("Constraint %s is validated in the transaction that added it NOT VALID, so the scan runs under that ACCESS EXCLUSIVE lock.", name)}}
	}
	return nil
}

// notNullCheck recognises CHECK (col IS NOT NULL).
func notNullCheck(c *pg.Constraint) (string, bool) {
	if c.Contype != pg.ConstrType_CONSTR_CHECK || c.RawExpr.GetNullTest() == nil {
		return "", false
	}
	nt := c.RawExpr.GetNullTest()
	ref := nt.Arg.GetColumnRef()
	if nt.Nulltesttype != pg.NullTestType_IS_NOT_NULL || ref == nil || len(ref.Fields) != 1 {
		return "", false
	}
	return ref.Fields[0].GetString_().GetSval(), true
}

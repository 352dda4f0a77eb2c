package migration

import pg "github.com/pganalyze/pg_query_go/v6"

// takesLock reports whether a statement may wait for a lock that other
// queries then queue behind: all DDL, and LOCK, TRUNCATE, VACUUM, CLUSTER,
// REINDEX, REFRESH and COMMENT. Not DML (row locks are another matter),
// transaction control, SET, GRANT, or a CREATE TABLE that references no
// other table (a new table has no readers to block), as squawk judges it.
func takesLock(n *pg.Node) bool {
	switch {
	case n.GetCreateStmt() != nil:
		return referencesTable(n.GetCreateStmt())
	case n.GetSelectStmt() != nil:
		return n.GetSelectStmt().IntoClause != nil
	case n.GetVacuumStmt() != nil:
		return n.GetVacuumStmt().IsVacuumcmd // ANALYZE takes no lock worth a timeout
	case n.GetInsertStmt() != nil, n.GetUpdateStmt() != nil, n.GetDeleteStmt() != nil, n.GetMergeStmt() != nil,
		n.GetTransactionStmt() != nil, n.GetVariableSetStmt() != nil, n.GetVariableShowStmt() != nil,
		n.GetCopyStmt() != nil, n.GetExplainStmt() != nil, n.GetDoStmt() != nil, n.GetCallStmt() != nil,
		n.GetGrantStmt() != nil, n.GetGrantRoleStmt() != nil, n.GetPrepareStmt() != nil, n.GetExecuteStmt() != nil,
		n.GetDeallocateStmt() != nil, n.GetDeclareCursorStmt() != nil, n.GetFetchStmt() != nil,
		n.GetClosePortalStmt() != nil, n.GetListenStmt() != nil, n.GetNotifyStmt() != nil, n.GetUnlistenStmt() != nil,
		n.GetCheckPointStmt() != nil, n.GetDiscardStmt() != nil, n.GetConstraintsSetStmt() != nil,
		n.GetReassignOwnedStmt() != nil, n.GetSecLabelStmt() != nil:
		return false
	}
	return true
}

// referencesTable reports whether CREATE TABLE has a foreign key, which
// locks the referenced table.
func referencesTable(c *pg.CreateStmt) bool {
	isFK := func(n *pg.Node) bool {
		k := n.GetConstraint()
		return k != nil && k.Contype == pg.ConstrType_CONSTR_FOREIGN
	}
	for _, elt := range c.TableElts {
		if isFK(elt) {
			return true
		}
		if col := elt.GetColumnDef(); col != nil {
			for _, k := range col.Constraints {
				if isFK(k) {
					return true
				}
			}
		}
	}
	return false
}

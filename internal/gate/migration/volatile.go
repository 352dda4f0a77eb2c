package migration

import pg "github.com/pganalyze/pg_query_go/v6"

// nonVolatile reports whether a column default is known not to be
// volatile, so that PostgreSQL 11+ stores it once instead of rewriting the
// table: constants, operators and casts over them, and calls without
// arguments to the built-in functions below. Anything else (a function of
// its own, a call with arguments) is taken as volatile, as squawk does.
func nonVolatile(n *pg.Node) bool {
	switch {
	case n == nil:
		return true // an operator's missing side (unary minus)
	case n.GetAConst() != nil, n.GetSqlvalueFunction() != nil: // current_timestamp, current_date, … are stable
		return true
	case n.GetTypeCast() != nil:
		return nonVolatile(n.GetTypeCast().Arg)
	case n.GetCollateClause() != nil:
		return nonVolatile(n.GetCollateClause().Arg)
	case n.GetAExpr() != nil:
		return nonVolatile(n.GetAExpr().Lexpr) && nonVolatile(n.GetAExpr().Rexpr)
	case n.GetAArrayExpr() != nil:
		return allNonVolatile(n.GetAArrayExpr().Elements)
	case n.GetList() != nil:
		return allNonVolatile(n.GetList().Items)
	case n.GetBoolExpr() != nil:
		return allNonVolatile(n.GetBoolExpr().Args)
	case n.GetFuncCall() != nil:
		return nonVolatileCall(n.GetFuncCall())
	}
	return false
}

func allNonVolatile(ns []*pg.Node) bool {
	for _, n := range ns {
		if !nonVolatile(n) {
			return false
		}
	}
	return true
}

func nonVolatileCall(f *pg.FuncCall) bool {
	if len(f.Args) > 0 || f.AggStar {
		return false
	}
	var names []string
	for _, n := range f.Funcname {
		names = append(names, n.GetString_().GetSval())
	}
	switch len(names) {
	case 1:
		return nonVolatileBuiltins[names[0]]
	case 2:
		return names[0] == "pg_catalog" && nonVolatileBuiltins[names[1]]
	}
	return false
}

// nonVolatileBuiltins are the built-in functions callable without
// arguments that are not volatile, from PostgreSQL 15.18:
//
//	select distinct proname from pg_proc where provolatile <> 'v'
//	and pronargs - pronargdefaults = 0 and prokind = 'f' and not proretset;
//
// gen_random_uuid, random, clock_timestamp and timeofday are volatile and
// so not here.
var nonVolatileBuiltins = map[string]bool{}

func init() {
	for _, name := range []string{
		"current_database", "current_schema", "current_user", "datemultirange", "get_current_ts_config",
		"getdatabaseencoding", "getpgusername", "inet_client_addr", "inet_client_port", "inet_server_addr",
		"inet_server_port", "int4multirange", "int8multirange", "json_build_array", "json_build_object",
		"jsonb_build_array", "jsonb_build_object", "make_interval", "now", "nummultirange", "pg_backend_pid",
		"pg_client_encoding", "pg_conf_load_time", "pg_current_snapshot", "pg_current_xact_id",
		"pg_current_xact_id_if_assigned", "pg_event_trigger_table_rewrite_oid", "pg_event_trigger_table_rewrite_reason",
		"pg_my_temp_schema", "pg_postmaster_start_time", "pg_stat_get_archiver",
		"pg_stat_get_bgwriter_buf_written_checkpoints", "pg_stat_get_bgwriter_buf_written_clean",
		"pg_stat_get_bgwriter_maxwritten_clean", "pg_stat_get_bgwriter_requested_checkpoints",
		"pg_stat_get_bgwriter_stat_reset_time", "pg_stat_get_bgwriter_timed_checkpoints", "pg_stat_get_buf_alloc",
		"pg_stat_get_buf_fsync_backend", "pg_stat_get_buf_written_backend", "pg_stat_get_checkpoint_sync_time",
		"pg_stat_get_checkpoint_write_time", "pg_stat_get_snapshot_timestamp", "pg_stat_get_wal",
		"pg_stat_get_wal_receiver", "pg_trigger_depth", "pi", "session_user", "statement_timestamp",
		"transaction_timestamp", "tsmultirange", "tstzmultirange", "txid_current", "txid_current_if_assigned",
		"txid_current_snapshot", "version",
	} {
		nonVolatileBuiltins[name] = true
	}
}

/* durable--1.1--1.2.sql: update of the durable extension from 1.1 to 1.2 */

\echo Use "ALTER EXTENSION durable UPDATE TO '1.2'" to load this file. \quit

/*
 * CREATE EXTENSION durable runs durable--1.0.sql, durable--1.0--1.1.sql
 * and then this script, so a fresh install and an updated one are the
 * same.  1.2 is about isolation between roles: quotas, fairness, names
 * per owner, notifications a role may see.  The library of 1.2 works with
 * the objects of 1.1 until this script has run.
 */

/* --- issue 14: monitoring without power --- */

/*
 * Members of durable_monitor, and of pg_monitor, read every execution, its
 * operations, history, children, schedule, queue row and HTTP requests in
 * flight, and the statistics; they steer nothing: the functions that change
 * an execution check durable_admin or the owner's privileges, never what a
 * role can read.  They get neither durable.secrets nor durable.callbacks
 * (whose token hashes are no business of theirs), nor the request column of
 * durable.http_requests (headers given inline may carry credentials).
 */
DO $$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'durable_monitor') THEN
		CREATE ROLE durable_monitor NOLOGIN;
	END IF;
	IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_auth_members m
					WHERE m.roleid = 'durable_monitor'::regrole
					  AND m.member = 'pg_monitor'::regrole) THEN
		GRANT durable_monitor TO pg_monitor;
	END IF;
END
$$;

DO $$
DECLARE
	t text;
BEGIN
	FOREACH t IN ARRAY ARRAY['executions', 'operations', 'history', 'children', 'schedules',
							 'queue', 'http_requests']
	LOOP
		EXECUTE pg_catalog.format($p$CREATE POLICY %I ON durable.%I FOR SELECT USING (
			pg_catalog.pg_has_role('durable_monitor', 'USAGE'))$p$,
			t OPERATOR(pg_catalog.||) '_monitor', t);
	END LOOP;
END
$$;
GRANT SELECT ON durable.queue TO durable_monitor;
GRANT SELECT (request_id, execution_id, run_no, op_id, attempt, owner, options,
			  idempotency_key, at_most_once, created_at, taken_at)
	ON durable.http_requests TO durable_monitor;

/*
 * Statistics per workflow, from shared memory: counted when the transaction
 * commits, kept across a clean restart (pg_stat/durable.stat), reset by a
 * crash or by durable_stats_reset().  Durations are those of finished
 * executions, from start to end, in milliseconds; the percentiles are
 * interpolated in a histogram of quarter-octave buckets (within about 19%).
 */
CREATE FUNCTION durable.workflow_stats_rows(
	OUT workflow text, OUT started bigint, OUT succeeded bigint, OUT failed bigint,
	OUT timed_out bigint, OUT stopped bigint, OUT retries bigint, OUT steps bigint,
	OUT finished bigint, OUT mean_ms double precision, OUT p50_ms double precision,
	OUT p95_ms double precision, OUT p99_ms double precision, OUT max_ms double precision,
	OUT stats_reset timestamptz)
RETURNS SETOF record LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'durable_workflow_stats';
REVOKE ALL ON FUNCTION durable.workflow_stats_rows() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION durable.workflow_stats_rows() TO durable_monitor, durable_admin;

CREATE VIEW durable.workflow_stats AS
	SELECT workflow, started, succeeded, failed, timed_out, stopped, retries, steps,
		   finished, mean_ms, p50_ms, p95_ms, p99_ms, max_ms, stats_reset
	  FROM durable.workflow_stats_rows();
COMMENT ON VIEW durable.workflow_stats IS
	'per workflow: executions started and ended, step attempts and retries, duration percentiles in ms (NULL workflow: those beyond durable.max_tracked_workflows)';
REVOKE ALL ON durable.workflow_stats FROM PUBLIC;
GRANT SELECT ON durable.workflow_stats TO durable_monitor, durable_admin;

CREATE FUNCTION @extschema@.durable_stats_reset()
RETURNS timestamptz LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'durable_stats_reset';
COMMENT ON FUNCTION @extschema@.durable_stats_reset() IS
	'empties durable.workflow_stats and sets the counters of durable.stats to zero';
REVOKE ALL ON FUNCTION @extschema@.durable_stats_reset() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.durable_stats_reset() TO durable_admin;
/* --- F5: NOTIFY on a channel per owner --- */

/*
 * Status notifications go to durable_status_<owner oid>, with only the
 * execution id and status as payload; this returns a role's channel (the
 * current role's when NULL or omitted).
 */
CREATE FUNCTION @extschema@.durable_status_channel(role regrole DEFAULT NULL)
RETURNS text LANGUAGE c STABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'durable_status_channel';
COMMENT ON FUNCTION @extschema@.durable_status_channel(regrole) IS
	'the NOTIFY channel of a role''s executions (durable.notify); payloads are hints anyone can forge';

/* --- F6: execution names per owner --- */

/*
 * A name is unique per owner: another role's names neither collide with
 * a role's own nor tell it they exist.  (name, owner) also serves the
 * look-ups by name alone.
 */
ALTER TABLE durable.names DROP CONSTRAINT names_pkey, ADD PRIMARY KEY (name, owner);
COMMENT ON COLUMN durable.executions.name IS
	'unique per owner (durable.names); the caller''s own execution of a name comes first';

/*
 * Schedule names are per owner too.  A fire looks up the schedule of its
 * name that belongs to the role pg_cron runs it as (the owner), and starts
 * '<schedule>@<minute>' in that role's names, where no other role can
 * claim it first.
 */
ALTER TABLE durable.schedules DROP CONSTRAINT schedules_pkey, ADD PRIMARY KEY (name, owner);

CREATE OR REPLACE FUNCTION durable.schedule_fire(schedule_name text)
RETURNS uuid LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	s durable.schedules;
	execution_name text;
BEGIN
	SELECT * INTO s FROM durable.schedules
	 WHERE name OPERATOR(pg_catalog.=) schedule_name
	   AND owner OPERATOR(pg_catalog.=) CURRENT_USER::regrole;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'schedule "%" does not exist', schedule_name
			USING ERRCODE = 'undefined_object',
				  HINT = 'See durable.schedules; a pg_cron job that outlived its schedule can be removed with cron.unschedule.';
	END IF;
	execution_name := s.name OPERATOR(pg_catalog.||) '@' OPERATOR(pg_catalog.||)
		to_char(date_trunc('minute', statement_timestamp() AT TIME ZONE 'UTC'),
				'YYYY-MM-DD"T"HH24:MI"Z"');
	PERFORM set_config('search_path', s.search_path, true);
	RETURN @extschema@.durable_start(s.workflow, s.input, execution_name, s.options);
END
$$;
/* --- F1/F2: the scheduler (drive errors, fair claims between owners) --- */

/*
 * An error that escapes a drive (not a failure of the workflow, which the
 * driver records) is charged to the execution, like a crash: drive_errors
 * counts those in a row without progress (drive_error_marker is the
 * progress at the last one, as executions.crash_marker), and the execution
 * fails with WF018 at durable.max_drive_errors.  Meanwhile its queue row is
 * due at retry_at, which claims of its inbox messages respect too.  The
 * queue row lives as long as the execution is unfinished.
 */
ALTER TABLE durable.queue
	ADD COLUMN drive_errors integer NOT NULL DEFAULT 0,
	ADD COLUMN drive_error_marker bigint,
	ADD COLUMN retry_at timestamptz;

/*
 * Claims take turns between the owners that have ready work, oldest first
 * within an owner: a loose index scan finds the owners, and these indexes
 * serve it and the claim within an owner.
 */
CREATE INDEX queue_owner_due_idx ON durable.queue (owner, due_at, execution_id);
CREATE INDEX inbox_owner_idx ON durable.inbox (owner, message_id);

/* --- issue 14: the graph's subgraph titles and children's errors --- */

/*
 * durable_graph as in 1.1, but a subgraph's title (a child context, an
 * invoke, parallel or map) is its first line only: Mermaid draws the
 * first node inside over the further lines of a title, which hid the
 * status and error.  Those are now the first node inside the subgraph
 * (<node>_s).  A child execution that did not succeed shows its error.
 */
CREATE OR REPLACE FUNCTION @extschema@.durable_graph(execution text, max_nodes integer DEFAULT 200)
RETURNS text LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	eid			uuid := durable.execution_id(execution);
	e			durable.executions;
	out			text[] := ARRAY['flowchart TD',
		'    classDef succeeded fill:#d1e7dd,stroke:#198754,color:#0f5132',
		'    classDef failed fill:#f8d7da,stroke:#dc3545,color:#842029',
		'    classDef active fill:#fff3cd,stroke:#ffc107,color:#664d03',
		'    classDef timed_out fill:#ffe5d0,stroke:#fd7e14,color:#842029',
		'    classDef stopped fill:#e2e3e5,stroke:#6c757d,color:#41464b'];
	edges		text[] := '{}';
	classes		text[] := '{}';
	stack		text[] := '{}';		/* paths of the open subgraphs of child contexts */
	multi_run	boolean;
	cur_run		integer := 0;		/* the run whose subgraph is open */
	prev_run	text := 'execution';	/* the node of the run before */
	nodes		integer := 0;
	size		integer := 0;		/* characters of the node lines, roughly */
	ops_shown	integer := 0;
	ops_total	integer;
	kids_shown	integer := 0;
	kids_total	integer;
	last_node	text := 'execution';
	o			record;
	c			record;
	node		text;
	label		text;
	state		text;				/* the status line(s) of an operation */
	path		text;
	ind			text;
BEGIN
	IF max_nodes IS NULL THEN
		RAISE EXCEPTION 'max_nodes must not be null'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF max_nodes OPERATOR(pg_catalog.<) 1 THEN
		RAISE EXCEPTION 'max_nodes must be at least 1'
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = pg_catalog.format('It is %s.', max_nodes);
	END IF;
	SELECT * INTO e FROM durable.executions x WHERE x.id OPERATOR(pg_catalog.=) eid;
	SELECT pg_catalog.count(*), COALESCE(pg_catalog.max(x.run_no), 1) OPERATOR(pg_catalog.>) 1
	  INTO ops_total, multi_run
	  FROM durable.operations x WHERE x.execution_id OPERATOR(pg_catalog.=) eid;
	multi_run := multi_run OR e.run_no OPERATOR(pg_catalog.>) 1;
	SELECT pg_catalog.count(*) INTO kids_total
	  FROM durable.children x WHERE x.parent_id OPERATOR(pg_catalog.=) eid;

	/* the execution itself */
	label := 'workflow ' OPERATOR(pg_catalog.||) durable.graph_text(e.workflow);
	IF e.name IS NOT NULL THEN
		label := label OPERATOR(pg_catalog.||) '<br/>name ' OPERATOR(pg_catalog.||) durable.graph_text(e.name);
	END IF;
	label := label OPERATOR(pg_catalog.||) '<br/>' OPERATOR(pg_catalog.||)
		pg_catalog.concat_ws(' · ', e.status,
			CASE WHEN e.run_no OPERATOR(pg_catalog.>) 1 THEN 'run ' OPERATOR(pg_catalog.||) e.run_no END,
			CASE WHEN e.redrive_count OPERATOR(pg_catalog.>) 0 THEN 'redriven ' OPERATOR(pg_catalog.||) e.redrive_count END,
			durable.graph_duration(e.duration));
	IF e.error IS NOT NULL THEN
		/* durable_stop's reason is apart from the message */
		label := label OPERATOR(pg_catalog.||) '<br/>error ' OPERATOR(pg_catalog.||)
			durable.graph_text(COALESCE(e.error OPERATOR(pg_catalog.->>) 'message', e.error::text)
				OPERATOR(pg_catalog.||) COALESCE(': ' OPERATOR(pg_catalog.||) (e.error OPERATOR(pg_catalog.->>) 'reason'), ''));
	END IF;
	out := out OPERATOR(pg_catalog.||)
		pg_catalog.format('    execution(["%s"]):::%s', label, durable.graph_class(e.status));

	/*
	 * The operations of every run, depth first: a durable_child context is
	 * a subgraph of its operations, an invoke, parallel or map a subgraph
	 * of its child executions.  Ordered by path, a context's operations
	 * come right after it; siblings are linked in op_id order.
	 */
	FOR o IN
		WITH RECURSIVE t AS (
			SELECT x.run_no, x.op_id, x.parent_op_id, x.name, x.kind, x.status, x.attempt,
				   x.error, x.duration, ARRAY[x.op_id] AS path
			  FROM durable.operations x
			 WHERE x.execution_id OPERATOR(pg_catalog.=) eid AND x.parent_op_id IS NULL
			UNION ALL
			SELECT x.run_no, x.op_id, x.parent_op_id, x.name, x.kind, x.status, x.attempt,
				   x.error, x.duration, t.path OPERATOR(pg_catalog.||) x.op_id
			  FROM durable.operations x
			  JOIN t ON x.execution_id OPERATOR(pg_catalog.=) eid
					AND x.run_no OPERATOR(pg_catalog.=) t.run_no
					AND x.parent_op_id OPERATOR(pg_catalog.=) t.op_id
		)
		SELECT t.*,
			   pg_catalog.lag(t.op_id) OVER (PARTITION BY t.run_no, t.parent_op_id ORDER BY t.op_id) AS prev_op,
			   EXISTS (SELECT 1 FROM durable.operations y
						WHERE y.execution_id OPERATOR(pg_catalog.=) eid
						  AND y.run_no OPERATOR(pg_catalog.=) t.run_no
						  AND y.parent_op_id OPERATOR(pg_catalog.=) t.op_id) AS has_ops,
			   EXISTS (SELECT 1 FROM durable.children y
						WHERE y.parent_id OPERATOR(pg_catalog.=) eid
						  AND y.run_no OPERATOR(pg_catalog.=) t.run_no
						  AND y.op_id OPERATOR(pg_catalog.=) t.op_id) AS has_children
		  FROM t
		 ORDER BY t.run_no, t.path
	LOOP
		EXIT WHEN nodes OPERATOR(pg_catalog.>=) max_nodes OR size OPERATOR(pg_catalog.>=) 45000;
		path := pg_catalog.array_to_string(o.path, '.');
		/* close the subgraphs of the contexts this operation is not in */
		WHILE pg_catalog.cardinality(stack) OPERATOR(pg_catalog.>) 0
			  AND (o.run_no OPERATOR(pg_catalog.<>) cur_run
				   OR NOT path OPERATOR(pg_catalog.^@)
					  (stack[pg_catalog.cardinality(stack)] OPERATOR(pg_catalog.||) '.')) LOOP
			stack := stack[1:pg_catalog.cardinality(stack) OPERATOR(pg_catalog.-) 1];
			out := out OPERATOR(pg_catalog.||) (pg_catalog.repeat('    ', pg_catalog.cardinality(stack)
				OPERATOR(pg_catalog.+) CASE WHEN multi_run THEN 2 ELSE 1 END) OPERATOR(pg_catalog.||) 'end');
		END LOOP;
		/* a new run: its subgraph, after a node for runs with no operations left */
		IF o.run_no OPERATOR(pg_catalog.<>) cur_run THEN
			IF multi_run THEN
				IF cur_run OPERATOR(pg_catalog.>) 0 THEN
					out := out OPERATOR(pg_catalog.||) '    end'::text;
				END IF;
				IF o.run_no OPERATOR(pg_catalog.>) (cur_run OPERATOR(pg_catalog.+) 1) THEN
					out := out OPERATOR(pg_catalog.||) pg_catalog.format(
						'    run%s["%s: no operations"]', cur_run OPERATOR(pg_catalog.+) 1,
						CASE WHEN o.run_no OPERATOR(pg_catalog.=) (cur_run OPERATOR(pg_catalog.+) 2)
							 THEN pg_catalog.format('run %s', cur_run OPERATOR(pg_catalog.+) 1)
							 ELSE pg_catalog.format('runs %s to %s', cur_run OPERATOR(pg_catalog.+) 1,
													o.run_no OPERATOR(pg_catalog.-) 1) END);
					edges := edges OPERATOR(pg_catalog.||) pg_catalog.format('    %s -->%s run%s', prev_run,
						CASE WHEN cur_run OPERATOR(pg_catalog.>) 0 THEN '|continue_as_new|' ELSE '' END,
						cur_run OPERATOR(pg_catalog.+) 1);
					prev_run := 'run' OPERATOR(pg_catalog.||) (cur_run OPERATOR(pg_catalog.+) 1);
				END IF;
				out := out OPERATOR(pg_catalog.||) pg_catalog.format('    subgraph run%s ["run %s"]', o.run_no, o.run_no);
				edges := edges OPERATOR(pg_catalog.||) pg_catalog.format('    %s -->%s run%s', prev_run,
					CASE WHEN prev_run OPERATOR(pg_catalog.<>) 'execution' THEN '|continue_as_new|' ELSE '' END,
					o.run_no);
				prev_run := 'run' OPERATOR(pg_catalog.||) o.run_no;
			END IF;
			cur_run := o.run_no;
		END IF;

		ind := pg_catalog.repeat('    ', pg_catalog.cardinality(stack) OPERATOR(pg_catalog.+)
			CASE WHEN multi_run THEN 2 ELSE 1 END);
		node := pg_catalog.format('r%s_o%s', o.run_no, o.op_id);
		label := o.kind OPERATOR(pg_catalog.||) ' ' OPERATOR(pg_catalog.||) durable.graph_text(o.name);
		state := pg_catalog.concat_ws(' · ', o.status,
				CASE WHEN o.attempt OPERATOR(pg_catalog.>) 1 THEN 'attempt ' OPERATOR(pg_catalog.||) o.attempt END,
				durable.graph_duration(o.duration));
		IF o.error IS NOT NULL AND o.status OPERATOR(pg_catalog.<>) 'SUCCEEDED' THEN
			/* the error of a failed operation, the last one of a step waiting to retry */
			state := state OPERATOR(pg_catalog.||)
				CASE WHEN o.status OPERATOR(pg_catalog.=) 'PENDING' THEN '<br/>last error ' ELSE '<br/>error ' END
				OPERATOR(pg_catalog.||)
				durable.graph_text(COALESCE(o.error OPERATOR(pg_catalog.->>) 'message', o.error::text));
		END IF;
		IF o.has_ops OR o.has_children THEN
			/*
			 * A subgraph's title is one line (Mermaid draws the first node
			 * inside over any further lines); its status and error are a
			 * node of their own, the first inside it.
			 */
			out := out OPERATOR(pg_catalog.||) pg_catalog.format('%ssubgraph %s ["%s"]', ind, node, label);
			out := out OPERATOR(pg_catalog.||)
				pg_catalog.format('%s    %s_s["%s"]:::%s', ind, node, state, durable.graph_class(o.status));
			classes := classes OPERATOR(pg_catalog.||)
				pg_catalog.format('    class %s %s', node, durable.graph_class(o.status));
			size := size OPERATOR(pg_catalog.+) pg_catalog.length(state) OPERATOR(pg_catalog.+) 40;
		ELSE
			label := label OPERATOR(pg_catalog.||) '<br/>' OPERATOR(pg_catalog.||) state;
			out := out OPERATOR(pg_catalog.||)
				pg_catalog.format('%s%s["%s"]:::%s', ind, node, label, durable.graph_class(o.status));
		END IF;
		nodes := nodes OPERATOR(pg_catalog.+) 1;
		size := size OPERATOR(pg_catalog.+) pg_catalog.length(label) OPERATOR(pg_catalog.+) 80;
		ops_shown := ops_shown OPERATOR(pg_catalog.+) 1;
		last_node := node;
		IF o.prev_op IS NOT NULL THEN
			edges := edges OPERATOR(pg_catalog.||)
				pg_catalog.format('    r%s_o%s --> %s', o.run_no, o.prev_op, node);
		ELSIF o.parent_op_id IS NULL AND NOT multi_run THEN
			edges := edges OPERATOR(pg_catalog.||) pg_catalog.format('    execution --> %s', node);
		END IF;

		IF o.has_children THEN
			/* the child executions of an invoke, parallel or map, side by side */
			FOR c IN
				SELECT y.idx, y.name, y.workflow, y.items, y.status, y.error,
					   y.finished_at OPERATOR(pg_catalog.-) y.started_at AS duration,
					   /* the index of the first item of a map's batch */
					   pg_catalog.sum(y.items) OVER (ORDER BY y.idx) OPERATOR(pg_catalog.-) y.items AS first_item
				  FROM durable.children y
				 WHERE y.parent_id OPERATOR(pg_catalog.=) eid
				   AND y.run_no OPERATOR(pg_catalog.=) o.run_no
				   AND y.op_id OPERATOR(pg_catalog.=) o.op_id
				 ORDER BY y.idx
			LOOP
				EXIT WHEN nodes OPERATOR(pg_catalog.>=) max_nodes OR size OPERATOR(pg_catalog.>=) 45000;
				label := CASE WHEN c.name IS NOT NULL THEN 'branch ' OPERATOR(pg_catalog.||) durable.graph_text(c.name)
							  WHEN o.kind OPERATOR(pg_catalog.=) 'map' AND c.items OPERATOR(pg_catalog.>) 1
							  THEN pg_catalog.format('batch %s · items %s to %s', c.idx, c.first_item,
													 c.first_item OPERATOR(pg_catalog.+) c.items OPERATOR(pg_catalog.-) 1)
							  WHEN o.kind OPERATOR(pg_catalog.=) 'map' AND c.idx OPERATOR(pg_catalog.<>) c.first_item
							  THEN pg_catalog.format('batch %s · item %s', c.idx, c.first_item)
							  WHEN o.kind OPERATOR(pg_catalog.=) 'map' THEN 'item ' OPERATOR(pg_catalog.||) c.idx
							  ELSE 'execution' END
					OPERATOR(pg_catalog.||) '<br/>' OPERATOR(pg_catalog.||) durable.graph_text(c.workflow)
					OPERATOR(pg_catalog.||) '<br/>' OPERATOR(pg_catalog.||)
					pg_catalog.concat_ws(' · ', c.status, durable.graph_duration(c.duration));
				IF c.error IS NOT NULL AND c.status OPERATOR(pg_catalog.<>) 'SUCCEEDED' THEN
					/* why a child failed, timed out or was stopped */
					label := label OPERATOR(pg_catalog.||) '<br/>error ' OPERATOR(pg_catalog.||)
						durable.graph_text(COALESCE(c.error OPERATOR(pg_catalog.->>) 'message', c.error::text)
							OPERATOR(pg_catalog.||) COALESCE(': ' OPERATOR(pg_catalog.||) (c.error OPERATOR(pg_catalog.->>) 'reason'), ''));
				END IF;
				out := out OPERATOR(pg_catalog.||) pg_catalog.format('%s    %s_c%s["%s"]:::%s', ind, node, c.idx,
					label, durable.graph_class(c.status));
				nodes := nodes OPERATOR(pg_catalog.+) 1;
				size := size OPERATOR(pg_catalog.+) pg_catalog.length(label) OPERATOR(pg_catalog.+) 40;
				kids_shown := kids_shown OPERATOR(pg_catalog.+) 1;
			END LOOP;
			out := out OPERATOR(pg_catalog.||) (ind OPERATOR(pg_catalog.||) 'end');
		ELSIF o.has_ops THEN
			stack := stack OPERATOR(pg_catalog.||) path;
		END IF;
	END LOOP;

	/* close what is open; the runs left with no operations */
	WHILE pg_catalog.cardinality(stack) OPERATOR(pg_catalog.>) 0 LOOP
		stack := stack[1:pg_catalog.cardinality(stack) OPERATOR(pg_catalog.-) 1];
		out := out OPERATOR(pg_catalog.||) (pg_catalog.repeat('    ',
			pg_catalog.cardinality(stack) OPERATOR(pg_catalog.+) CASE WHEN multi_run THEN 2 ELSE 1 END)
			OPERATOR(pg_catalog.||) 'end');
	END LOOP;
	IF multi_run AND cur_run OPERATOR(pg_catalog.>) 0 THEN
		out := out OPERATOR(pg_catalog.||) '    end'::text;
	END IF;
	IF multi_run AND ops_shown OPERATOR(pg_catalog.=) ops_total
	   AND e.run_no OPERATOR(pg_catalog.>) cur_run THEN
		out := out OPERATOR(pg_catalog.||) pg_catalog.format('    run%s["%s: no operations"]',
			cur_run OPERATOR(pg_catalog.+) 1,
			CASE WHEN e.run_no OPERATOR(pg_catalog.=) (cur_run OPERATOR(pg_catalog.+) 1)
				 THEN pg_catalog.format('run %s', e.run_no)
				 ELSE pg_catalog.format('runs %s to %s', cur_run OPERATOR(pg_catalog.+) 1, e.run_no) END);
		edges := edges OPERATOR(pg_catalog.||) pg_catalog.format('    %s -->%s run%s', prev_run,
			CASE WHEN cur_run OPERATOR(pg_catalog.>) 0 THEN '|continue_as_new|' ELSE '' END,
			cur_run OPERATOR(pg_catalog.+) 1);
	END IF;

	/* what the cap left out */
	IF ops_shown OPERATOR(pg_catalog.<) ops_total OR kids_shown OPERATOR(pg_catalog.<) kids_total THEN
		out := out OPERATOR(pg_catalog.||) pg_catalog.format('    more["... %s"]',
			pg_catalog.concat_ws(' and ',
				CASE WHEN ops_shown OPERATOR(pg_catalog.<) ops_total
					 THEN pg_catalog.format('%s more operation%s', ops_total OPERATOR(pg_catalog.-) ops_shown,
											CASE WHEN (ops_total OPERATOR(pg_catalog.-) ops_shown) OPERATOR(pg_catalog.>) 1
												 THEN 's' ELSE '' END) END,
				CASE WHEN kids_shown OPERATOR(pg_catalog.<) kids_total
					 THEN pg_catalog.format('%s more child execution%s', kids_total OPERATOR(pg_catalog.-) kids_shown,
											CASE WHEN (kids_total OPERATOR(pg_catalog.-) kids_shown) OPERATOR(pg_catalog.>) 1
												 THEN 's' ELSE '' END) END));
		edges := edges OPERATOR(pg_catalog.||) pg_catalog.format('    %s -.-> more', last_node);
	END IF;
	RETURN pg_catalog.array_to_string(out OPERATOR(pg_catalog.||) edges OPERATOR(pg_catalog.||) classes, E'\n');
END
$$;
COMMENT ON FUNCTION @extschema@.durable_graph(text, integer) IS
	'a Mermaid flowchart of an execution: its operations in order, child contexts and child executions nested, with statuses and durations';
/* --- issue 14: what the workers run now (durable.activity), a word when nothing will --- */

/*
 * One row per live background worker and one for the HTTP worker, from
 * shared memory: what each drives now.  state is idle, driving (replaying,
 * committing) or running (an operation: a step attempt, an HTTP request
 * handed over, a timer started ...); since is when that operation began,
 * or else the drive.  As pg_stat_activity hides other roles' queries, the
 * execution and its operation are NULL for a role that may not see that
 * execution (only its owner's members, durable_admin, durable_monitor and
 * pg_monitor may).  No rows when durable was not preloaded.
 */
CREATE FUNCTION durable.activity_rows(
	OUT pid integer, OUT kind text, OUT state text, OUT execution_id uuid,
	OUT operation text, OUT op_kind text, OUT op_id integer, OUT attempt integer,
	OUT since timestamptz, OUT drive_since timestamptz, OUT in_flight integer)
RETURNS SETOF record LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'durable_activity_rows';

CREATE VIEW durable.activity AS
	SELECT pid, kind, state, execution_id, operation, op_kind, op_id, attempt,
		   since, drive_since, in_flight
	  FROM durable.activity_rows();
COMMENT ON VIEW durable.activity IS
	'what each background worker (kind worker) and the HTTP worker (kind http) runs now; an execution another role may not see shows as NULL';
GRANT SELECT ON durable.activity TO PUBLIC;

/*
 * Whether this server preloaded durable: without it no worker runs, and
 * executions move only when a session drives them.
 */
CREATE FUNCTION durable.library_preloaded()
RETURNS boolean LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'durable_library_preloaded';
COMMENT ON FUNCTION durable.library_preloaded() IS
	'whether durable is in shared_preload_libraries of the running server (its workers and shared memory)';

/* --- issue 14: large fan-out (durable_results) --- */

/*
 * The outcome of every branch or item of the execution's durable_invoke,
 * durable_parallel and durable_map operations (or of those named
 * operation), every run, read from durable.children: the place of a
 * result too large for the operation's checkpoint ("results": "summary",
 * or "auto" when the array cannot fit).  The caller must control the
 * execution, as for durable_operations; inside a step, a NULL execution is
 * the step's own.
 */
CREATE FUNCTION @extschema@.durable_results(execution text, operation text DEFAULT NULL)
RETURNS TABLE (run_no integer, op_id integer, operation text, idx integer, name text,
			   status text, result jsonb, error jsonb)
LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'durable_results';
COMMENT ON FUNCTION @extschema@.durable_results(text, text) IS
	'the outcome of each branch or item of the parallel, map and invoke operations of an execution';

/* --- issue 14: secrets encrypted at rest --- */

/*
 * Secret values are sealed with AES-256-GCM under a key kept outside the
 * database (durable.secrets_key_file, by default pg_durable/secrets.key
 * in the data directory), so that dumps and copies of the table hold no
 * value in clear text.  The values stored before 1.2 are sealed here; the
 * function that does it is for this update only.
 */
CREATE FUNCTION durable.secret_seal(name text, value text)
RETURNS text LANGUAGE c VOLATILE STRICT AS 'MODULE_PATHNAME', 'durable_secret_seal';
REVOKE ALL ON FUNCTION durable.secret_seal(text, text) FROM PUBLIC;
UPDATE durable.secrets SET value = durable.secret_seal(name, value)
 WHERE value NOT LIKE 'durable-aes256gcm:%';
DROP FUNCTION durable.secret_seal(text, text);
COMMENT ON COLUMN durable.secrets.value IS
	'the value sealed with AES-256-GCM under the key of durable.secrets_key_file';

/* --- issue 15: durable_wait_for_any --- */

/*
 * Waits for the first of several branches (events, timers, callbacks of
 * durable_create_callback) and returns {"branch", "payload"}.  Like the
 * other waits, executable by PUBLIC: it only works inside a workflow.
 */
CREATE FUNCTION @extschema@.durable_wait_for_any(name text, branches jsonb)
RETURNS jsonb LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'durable_wait_for_any';
COMMENT ON FUNCTION @extschema@.durable_wait_for_any(text, jsonb) IS
	'wait for the first of several events, timers and callbacks; returns {"branch", "payload"}';

/* --- issue 16: task queues for external workers --- */

/*
 * A task (durable_task) is work a workflow hands to a worker outside the
 * database.  Workers claim tasks of a task queue by name with plain SQL
 * (durable_task_claim) and get a lease; each claim hands out a new task
 * id, a capability of which only the SHA-256 is stored (task_leases), so
 * that a worker whose lease moved on to another attempt cannot complete
 * the task.  One row per durable_task operation; the row goes with its
 * execution when the execution is purged.
 */
CREATE TABLE durable.tasks (
	execution_id	uuid NOT NULL REFERENCES durable.executions ON DELETE CASCADE,
	run_no			integer NOT NULL,
	op_id			integer NOT NULL,		/* the durable_task operation */
	name			text NOT NULL,
	task_queue		text NOT NULL,
	payload			jsonb,
	options			jsonb,					/* the options of durable_task, as given */
	status			text NOT NULL,			/* QUEUED, CLAIMED, SUCCEEDED, FAILED, TIMED_OUT */
	attempt			integer NOT NULL DEFAULT 0,	/* attempts claimed so far */
	max_attempts	integer NOT NULL,
	available_at	timestamptz NOT NULL,	/* QUEUED: when it may be claimed */
	timeout_at		timestamptz,
	heartbeat_timeout interval,				/* the longest lease a claim or heartbeat gets */
	worker			text,					/* CLAIMED: who holds the lease */
	lease			interval,				/* CLAIMED: the lease a heartbeat renews */
	lease_until		timestamptz,			/* CLAIMED: the end of the lease */
	result			jsonb,
	error			jsonb,					/* the last failure of an attempt */
	owner			regrole NOT NULL,		/* the execution's owner */
	created_at		timestamptz NOT NULL,
	completed_at	timestamptz,
	PRIMARY KEY (execution_id, run_no, op_id)
);
CREATE INDEX tasks_queued_idx ON durable.tasks (task_queue, available_at)
	WHERE status = 'QUEUED';
COMMENT ON TABLE durable.tasks IS 'tasks for workers outside the database (durable_task)';

CREATE TABLE durable.task_leases (
	lease_hash		bytea NOT NULL,			/* sha256 of the task id a claim handed out */
	execution_id	uuid NOT NULL,
	run_no			integer NOT NULL,
	op_id			integer NOT NULL,
	attempt			integer NOT NULL,
	worker			text NOT NULL,
	owner			regrole NOT NULL,		/* the task's */
	claimed_at		timestamptz NOT NULL,
	PRIMARY KEY (lease_hash),
	FOREIGN KEY (execution_id, run_no, op_id) REFERENCES durable.tasks ON DELETE CASCADE
);
CREATE INDEX task_leases_task_idx ON durable.task_leases (execution_id, run_no, op_id);
COMMENT ON TABLE durable.task_leases IS 'the claims of tasks, by the hash of the task id each handed out';

/* who may claim the tasks of an owner from a task queue, besides its members */
CREATE TABLE durable.task_queue_grants (
	task_queue		text NOT NULL,
	owner			regrole NOT NULL,		/* whose tasks */
	grantee			regrole NOT NULL,
	granted_at		timestamptz NOT NULL,
	PRIMARY KEY (task_queue, owner, grantee)
);

DO $$
DECLARE
	t text;
BEGIN
	FOREACH t IN ARRAY ARRAY['tasks', 'task_leases', 'task_queue_grants']
	LOOP
		EXECUTE pg_catalog.format('ALTER TABLE durable.%I ENABLE ROW LEVEL SECURITY', t);
		EXECUTE pg_catalog.format('REVOKE ALL ON durable.%I FROM PUBLIC', t);
		PERFORM pg_catalog.pg_extension_config_dump('durable.' OPERATOR(pg_catalog.||) t, '');
	END LOOP;
END
$$;
/* a role sees its own tasks and the grants it gave or got; nobody needs the leases */
CREATE POLICY tasks_owner ON durable.tasks FOR SELECT USING (
	pg_catalog.pg_has_role(owner::oid, 'USAGE')
	OR pg_catalog.pg_has_role('durable_admin', 'USAGE'));
CREATE POLICY tasks_monitor ON durable.tasks FOR SELECT USING (
	pg_catalog.pg_has_role('durable_monitor', 'USAGE'));
CREATE POLICY task_queue_grants_owner ON durable.task_queue_grants FOR SELECT USING (
	pg_catalog.pg_has_role(owner::oid, 'USAGE')
	OR pg_catalog.pg_has_role(grantee::oid, 'USAGE')
	OR pg_catalog.pg_has_role('durable_admin', 'USAGE'));
GRANT SELECT ON durable.tasks, durable.task_queue_grants TO PUBLIC;

CREATE FUNCTION @extschema@.durable_task(name text, task_queue text, payload jsonb,
										 options jsonb DEFAULT NULL)
RETURNS jsonb LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'durable_task';
COMMENT ON FUNCTION @extschema@.durable_task(text, text, jsonb, jsonb) IS
	'hand a task to the workers of a task queue and wait for its result';

CREATE FUNCTION @extschema@.durable_task_claim(task_queue text, worker text,
											   lease interval DEFAULT '30 seconds',
											   max_tasks integer DEFAULT 1,
											   wait interval DEFAULT '0')
RETURNS TABLE (task_id text, name text, payload jsonb, attempt integer, execution_id uuid,
			   lease_until timestamptz)
LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'durable_task_claim';
COMMENT ON FUNCTION @extschema@.durable_task_claim(text, text, interval, integer, interval) IS
	'claim tasks of a task queue, waiting up to wait for one to come';

CREATE FUNCTION @extschema@.durable_task_heartbeat(task_id text, lease interval DEFAULT NULL)
RETURNS timestamptz LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'durable_task_heartbeat';
COMMENT ON FUNCTION @extschema@.durable_task_heartbeat(text, interval) IS
	'renew the lease of a claimed task; returns its new end';

CREATE FUNCTION @extschema@.durable_task_complete(task_id text, result jsonb)
RETURNS void LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'durable_task_complete';
COMMENT ON FUNCTION @extschema@.durable_task_complete(text, jsonb) IS
	'complete a claimed task with its result; its execution resumes';

CREATE FUNCTION @extschema@.durable_task_fail(task_id text, error jsonb,
											  retryable boolean DEFAULT true)
RETURNS void LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'durable_task_fail';
COMMENT ON FUNCTION @extschema@.durable_task_fail(text, jsonb, boolean) IS
	'fail an attempt of a claimed task: retried while attempts remain, unless not retryable';

CREATE FUNCTION @extschema@.durable_task_queue_grant(task_queue text, role name,
													 owner name DEFAULT current_user)
RETURNS void LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'durable_task_queue_grant';
COMMENT ON FUNCTION @extschema@.durable_task_queue_grant(text, name, name) IS
	'let a role claim the tasks of an owner from a task queue';

CREATE FUNCTION @extschema@.durable_task_queue_revoke(task_queue text, role name,
													  owner name DEFAULT current_user)
RETURNS void LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'durable_task_queue_revoke';
COMMENT ON FUNCTION @extschema@.durable_task_queue_revoke(text, name, name) IS
	'take back a grant of durable_task_queue_grant';

/* --- issue 16: limiters of operations --- */

/*
 * A limiter (durable_limiter_set) governs the operations that name it
 * ({"limiter": "<name>"} in their options) across all executions: at most
 * max_concurrency hold it at once, and a token bucket of rate per period
 * (burst at most at once) paces their beginnings.  Limiter names are one
 * namespace per database; a limiter belongs to the role that created it,
 * whose executions may use it, and to the roles it lists in roles.
 * holders: the operations holding it (an attempt under way); waiters: the
 * operations waiting for it, in arrival order (waiter_id).  Written only
 * through the extension's functions.
 */
CREATE TABLE durable.limiters (
	name			text NOT NULL PRIMARY KEY,
	owner			regrole NOT NULL,
	roles			regrole[] NOT NULL DEFAULT '{}',
	max_concurrency	integer,
	rate			integer,
	period			interval,
	burst			integer,
	tokens			double precision,
	refilled_at		timestamptz,
	paused_until	timestamptz,
	created_at		timestamptz NOT NULL,
	updated_at		timestamptz NOT NULL
);
COMMENT ON TABLE durable.limiters IS
	'limiters of operations across executions: concurrency, a token bucket, a pause after Retry-After';
CREATE TABLE durable.limiter_holders (
	limiter			text NOT NULL,
	execution_id	uuid NOT NULL,
	run_no			integer NOT NULL,
	op_id			integer NOT NULL,
	owner			regrole NOT NULL,
	acquired_at		timestamptz NOT NULL,
	PRIMARY KEY (execution_id, run_no, op_id)
);
CREATE INDEX limiter_holders_limiter_idx ON durable.limiter_holders (limiter);
COMMENT ON TABLE durable.limiter_holders IS 'operations holding a limiter: an attempt under way';
CREATE TABLE durable.limiter_waiters (
	limiter			text NOT NULL,
	waiter_id		bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	execution_id	uuid NOT NULL,
	run_no			integer NOT NULL,
	op_id			integer NOT NULL,
	owner			regrole NOT NULL,
	since			timestamptz NOT NULL,
	UNIQUE (execution_id, run_no, op_id)
);
CREATE INDEX limiter_waiters_limiter_idx ON durable.limiter_waiters (limiter, waiter_id);
COMMENT ON TABLE durable.limiter_waiters IS 'operations waiting for a limiter, first come first served';

DO $$
DECLARE
	t text;
BEGIN
	FOREACH t IN ARRAY ARRAY['limiters', 'limiter_holders', 'limiter_waiters']
	LOOP
		EXECUTE pg_catalog.format('ALTER TABLE durable.%I ENABLE ROW LEVEL SECURITY', t);
		EXECUTE pg_catalog.format($p$CREATE POLICY %I ON durable.%I FOR SELECT USING (
			pg_catalog.pg_has_role(owner::oid, 'USAGE')
			OR pg_catalog.pg_has_role('durable_admin', 'USAGE')
			OR pg_catalog.pg_has_role('durable_monitor', 'USAGE'))$p$,
			t OPERATOR(pg_catalog.||) '_owner', t);
		EXECUTE pg_catalog.format('REVOKE ALL ON durable.%I FROM PUBLIC', t);
		PERFORM pg_catalog.pg_extension_config_dump('durable.' OPERATOR(pg_catalog.||) t, '');
	END LOOP;
END
$$;
REVOKE ALL ON SEQUENCE durable.limiter_waiters_waiter_id_seq FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('durable.limiter_waiters_waiter_id_seq', '');
GRANT SELECT ON durable.limiters, durable.limiter_holders, durable.limiter_waiters TO PUBLIC;

CREATE FUNCTION @extschema@.durable_limiter_set(name text, options jsonb)
RETURNS void LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'durable_limiter_set';
COMMENT ON FUNCTION @extschema@.durable_limiter_set(text, jsonb) IS
	'creates or redefines a limiter of operations: max_concurrency, rate, period, burst, roles';
CREATE FUNCTION @extschema@.durable_limiter_drop(name text)
RETURNS void LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'durable_limiter_drop';
COMMENT ON FUNCTION @extschema@.durable_limiter_drop(text) IS
	'drops a limiter; the operations waiting for it fail with WF023';
REVOKE ALL ON FUNCTION @extschema@.durable_limiter_set(text, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.durable_limiter_drop(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.durable_limiter_set(text, jsonb) TO PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.durable_limiter_drop(text) TO PUBLIC;

/* --- issue 16: queues of executions --- */

/*
 * A queue of executions belongs to the role that made it (its name is per
 * owner, like a schedule's): durable_start(..., options => '{"queue": ...}')
 * finds it among the caller's queues.  An execution of a queue has its
 * ready-queue row from its start, marked with the queue: queue_admitted is
 * false while it waits (due never, retry never, so no claim takes it nor
 * its inbox), true once the queue admitted it (its due time is then when
 * the queue's rate lets it begin).  A waiting row due now is a gate: the
 * driver that claims it runs the queue's admission, under the lock of the
 * queue's row in durable.exec_queues.  admissions keeps the last rate
 * admission times (the sliding window of the rate), vclock the virtual
 * time of the round robin between keys.
 */
CREATE TABLE durable.exec_queues (
	owner			regrole NOT NULL,
	name			text NOT NULL,
	max_concurrency	integer,
	max_concurrency_per_key integer,
	rate			integer,
	period			interval,
	fairness		boolean NOT NULL DEFAULT true,
	vclock			bigint NOT NULL DEFAULT 0,
	admissions		timestamptz[] NOT NULL DEFAULT '{}',
	created_at		timestamptz NOT NULL DEFAULT pg_catalog.now(),
	PRIMARY KEY (owner, name)
);
ALTER TABLE durable.exec_queues ENABLE ROW LEVEL SECURITY;
CREATE POLICY exec_queues_owner ON durable.exec_queues FOR SELECT USING (
	pg_catalog.pg_has_role(owner::oid, 'USAGE')
	OR pg_catalog.pg_has_role('durable_admin', 'USAGE')
	OR pg_catalog.pg_has_role('durable_monitor', 'USAGE'));
REVOKE ALL ON durable.exec_queues FROM PUBLIC;
GRANT SELECT ON durable.exec_queues TO PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('durable.exec_queues', '');
COMMENT ON TABLE durable.exec_queues IS
	'queues of executions (durable_queue_set): their limits, per owner';

ALTER TABLE durable.queue
	ADD COLUMN queue_name text,
	ADD COLUMN queue_key text,
	ADD COLUMN queue_priority integer,
	ADD COLUMN queue_vseq bigint,
	ADD COLUMN queue_admitted boolean,
	ADD COLUMN queue_not_before timestamptz;
/* the waiting executions of a queue in the order of admission */
CREATE INDEX queue_xq_wait_idx ON durable.queue
	(owner, queue_name, queue_priority, queue_vseq, execution_id) WHERE NOT queue_admitted;
/* the waiting executions of a key (debounce, round robin) */
CREATE INDEX queue_xq_key_idx ON durable.queue
	(owner, queue_name, queue_key, queue_vseq) WHERE NOT queue_admitted;
/* the admitted executions of a queue and key (its concurrency) */
CREATE INDEX queue_xq_run_idx ON durable.queue
	(owner, queue_name, queue_key) WHERE queue_admitted;

CREATE FUNCTION @extschema@.durable_queue_set(name text, options jsonb)
RETURNS void LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'durable_queue_set';
COMMENT ON FUNCTION @extschema@.durable_queue_set(text, jsonb) IS
	'creates or changes a queue of executions of the calling role';
CREATE FUNCTION @extschema@.durable_queue_drop(name text)
RETURNS void LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'durable_queue_drop';
COMMENT ON FUNCTION @extschema@.durable_queue_drop(text) IS
	'drops a queue of executions of the calling role that has no unfinished execution';

/*
 * Per queue and key, what waits to be admitted and what runs (admitted,
 * not finished, suspended included); a queue with no execution shows once
 * with key and counts NULL and 0.  As durable.activity, a role sees the
 * queues of the roles whose privileges it has; durable_admin and
 * durable_monitor see all.
 */
CREATE VIEW durable.queue_status AS
SELECT d.owner, d.name AS queue, s.key,
	   COALESCE(s.waiting, 0) AS waiting,
	   COALESCE(s.running, 0) AS running,
	   s.oldest_waiting,
	   d.max_concurrency, d.max_concurrency_per_key, d.rate, d.period
  FROM durable.exec_queues d
  LEFT JOIN (SELECT q.owner, q.queue_name, q.queue_key AS key,
					pg_catalog.count(*) FILTER (WHERE NOT q.queue_admitted) AS waiting,
					pg_catalog.count(*) FILTER (WHERE q.queue_admitted) AS running,
					pg_catalog.min(e.created_at) FILTER (WHERE NOT q.queue_admitted) AS oldest_waiting
			   FROM durable.queue q JOIN durable.executions e ON e.id = q.execution_id
			  WHERE q.queue_name IS NOT NULL
			  GROUP BY q.owner, q.queue_name, q.queue_key) s
	ON s.owner = d.owner AND s.queue_name = d.name
 WHERE pg_catalog.pg_has_role(d.owner::oid, 'USAGE')
	OR pg_catalog.pg_has_role('durable_admin', 'USAGE')
	OR pg_catalog.pg_has_role('durable_monitor', 'USAGE');
COMMENT ON VIEW durable.queue_status IS
	'per queue of executions and key: how many wait to be admitted and how many run';
REVOKE ALL ON durable.queue_status FROM PUBLIC;
GRANT SELECT ON durable.queue_status TO PUBLIC;

/* --- last: say when no worker will run executions (issue 14) --- */

DO $$
BEGIN
	IF NOT durable.library_preloaded() THEN
		RAISE WARNING 'durable is not in shared_preload_libraries: no background worker will run executions'
			USING DETAIL = 'The library was loaded on demand; executions run only when a session drives them (durable_drive_pending, CALL durable_run, CALL durable_tick).',
				  HINT = 'Add durable to shared_preload_libraries in postgresql.conf, set durable.database to this database and restart the server.';
	END IF;
END
$$;

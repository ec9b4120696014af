/* durable--1.0--1.1.sql: update of the durable extension from 1.0 to 1.1 */

\echo Use "ALTER EXTENSION durable UPDATE TO '1.1'" to load this file. \quit

/*
 * CREATE EXTENSION durable runs durable--1.0.sql and then this script, so a
 * fresh install and an updated one are the same.  The library of 1.1 works
 * with the objects of 1.0 until this script has run: nothing here is read
 * or written by the C code of a drive.
 */

/* ---------------------------------------------------------------------
 * Visibility: durations as intervals, next to the timestamps
 * --------------------------------------------------------------------- */

ALTER TABLE durable.executions
	ADD COLUMN duration interval GENERATED ALWAYS AS (finished_at - started_at) STORED;
COMMENT ON COLUMN durable.executions.duration IS 'finished_at - started_at: NULL until it finishes';
ALTER TABLE durable.operations
	ADD COLUMN duration interval GENERATED ALWAYS AS (finished_at - started_at) STORED;
COMMENT ON COLUMN durable.operations.duration IS 'finished_at - started_at: NULL until it finishes';

/* ---------------------------------------------------------------------
 * Privileges: row level security on the secrets too
 * --------------------------------------------------------------------- */

ALTER TABLE durable.secrets ENABLE ROW LEVEL SECURITY;
CREATE POLICY secrets_owner ON durable.secrets FOR SELECT USING (
	pg_catalog.pg_has_role(owner::oid, 'USAGE'));
ALTER TABLE durable.secret_grants ENABLE ROW LEVEL SECURITY;
CREATE POLICY secret_grants_owner ON durable.secret_grants FOR SELECT USING (
	EXISTS (SELECT 1 FROM durable.secrets s
			 WHERE s.name OPERATOR(pg_catalog.=) secret_grants.name
			   AND pg_catalog.pg_has_role(s.owner::oid, 'USAGE')));

/* ---------------------------------------------------------------------
 * Versioning, repair and retention
 * --------------------------------------------------------------------- */

CREATE FUNCTION @extschema@.durable_patched(patch_id text)
RETURNS boolean LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'durable_patched';
COMMENT ON FUNCTION @extschema@.durable_patched(text) IS
	'inside a workflow: true when this code path is new for the execution, false when replaying a history from before the patch';

CREATE FUNCTION @extschema@.durable_redrive(execution text)
RETURNS text LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'durable_redrive';
COMMENT ON FUNCTION @extschema@.durable_redrive(text) IS
	'resume a FAILED or TIMED_OUT execution from its checkpoints, running the operation that failed again';

CREATE FUNCTION @extschema@.durable_purge(older_than interval,
	statuses text[] DEFAULT ARRAY['SUCCEEDED', 'FAILED', 'TIMED_OUT', 'STOPPED'])
RETURNS bigint LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'durable_purge';
COMMENT ON FUNCTION @extschema@.durable_purge(interval, text[]) IS
	'delete the executions (of roles you control) that finished more than older_than ago, whatever their retention';

/* ---------------------------------------------------------------------
 * Visibility: durable_graph
 * --------------------------------------------------------------------- */

/*
 * Text for the inside of a Mermaid "..." label.  Names, workflows and
 * error messages are user input: every character but letters, digits and
 * a few harmless punctuation marks becomes an entity code (#34; for a
 * quote, #35; for #, #60; for <, ...), which Mermaid shows as the
 * character and never reads as syntax; control characters (newlines)
 * become spaces.  Longer text is cut at max_length characters.
 */
CREATE FUNCTION durable.graph_text(s text, max_length integer DEFAULT 60)
RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT COALESCE(pg_catalog.string_agg(
			 CASE WHEN c OPERATOR(pg_catalog.~) '^[A-Za-z0-9 _.,:/+=*@!?$-]$' THEN c
				  WHEN pg_catalog.ascii(c) OPERATOR(pg_catalog.<) 32
					OR pg_catalog.ascii(c) OPERATOR(pg_catalog.=) 127 THEN ' '
				  ELSE '#' OPERATOR(pg_catalog.||) pg_catalog.ascii(c) OPERATOR(pg_catalog.||) ';' END,
			 '' ORDER BY n), '')
	  FROM pg_catalog.string_to_table(
			 CASE WHEN pg_catalog.length(s) OPERATOR(pg_catalog.>) max_length
				  THEN pg_catalog.left(s, max_length OPERATOR(pg_catalog.-) 3) OPERATOR(pg_catalog.||) '...'
				  ELSE s END, NULL) WITH ORDINALITY AS t(c, n)
$$;
COMMENT ON FUNCTION durable.graph_text(text, integer) IS
	'text made safe for a Mermaid "..." label (entity codes), cut at max_length characters';

/* A duration for people: 12 ms, 3.2 s, 5 min, 1.5 h, 2 d; NULL for NULL. */
CREATE FUNCTION durable.graph_duration(d interval)
RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT CASE WHEN s OPERATOR(pg_catalog.<) 0 THEN '-' ELSE '' END OPERATOR(pg_catalog.||)
		   CASE WHEN a OPERATOR(pg_catalog.<) 1
				THEN pg_catalog.round(a OPERATOR(pg_catalog.*) 1000) OPERATOR(pg_catalog.||) ' ms'
				WHEN a OPERATOR(pg_catalog.<) 60
				THEN pg_catalog.trim_scale(pg_catalog.round(a, 1)) OPERATOR(pg_catalog.||) ' s'
				WHEN a OPERATOR(pg_catalog.<) 3600
				THEN pg_catalog.trim_scale(pg_catalog.round(a OPERATOR(pg_catalog./) 60, 1)) OPERATOR(pg_catalog.||) ' min'
				WHEN a OPERATOR(pg_catalog.<) 86400
				THEN pg_catalog.trim_scale(pg_catalog.round(a OPERATOR(pg_catalog./) 3600, 1)) OPERATOR(pg_catalog.||) ' h'
				ELSE pg_catalog.trim_scale(pg_catalog.round(a OPERATOR(pg_catalog./) 86400, 1)) OPERATOR(pg_catalog.||) ' d' END
	  FROM (SELECT pg_catalog.date_part('epoch', d)::numeric) AS x(s),
		   LATERAL (SELECT pg_catalog.abs(x.s)) AS y(a)
$$;
COMMENT ON FUNCTION durable.graph_duration(interval) IS
	'an interval as a short text for people: 12 ms, 3.2 s, 5 min, 1.5 h, 2 d';

/* The Mermaid class of a status (see the classDef lines of durable_graph). */
CREATE FUNCTION durable.graph_class(status text)
RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT CASE status
			 WHEN 'SUCCEEDED' THEN 'succeeded'
			 WHEN 'FAILED' THEN 'failed'
			 WHEN 'TIMED_OUT' THEN 'timed_out'
			 WHEN 'STOPPED' THEN 'stopped'
			 WHEN 'CANCELLED' THEN 'stopped'
			 ELSE 'active' END		/* STARTED, PENDING, RUNNING, SUSPENDED, WAITING */
$$;
COMMENT ON FUNCTION durable.graph_class(text) IS
	'the class of a status in the Mermaid graphs of durable_graph';

CREATE FUNCTION @extschema@.durable_graph(execution text, max_nodes integer DEFAULT 200)
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
		label := o.kind OPERATOR(pg_catalog.||) ' ' OPERATOR(pg_catalog.||) durable.graph_text(o.name)
			OPERATOR(pg_catalog.||) '<br/>' OPERATOR(pg_catalog.||)
			pg_catalog.concat_ws(' · ', o.status,
				CASE WHEN o.attempt OPERATOR(pg_catalog.>) 1 THEN 'attempt ' OPERATOR(pg_catalog.||) o.attempt END,
				durable.graph_duration(o.duration));
		IF o.error IS NOT NULL AND o.status OPERATOR(pg_catalog.<>) 'SUCCEEDED' THEN
			/* the error of a failed operation, the last one of a step waiting to retry */
			label := label OPERATOR(pg_catalog.||)
				CASE WHEN o.status OPERATOR(pg_catalog.=) 'PENDING' THEN '<br/>last error ' ELSE '<br/>error ' END
				OPERATOR(pg_catalog.||)
				durable.graph_text(COALESCE(o.error OPERATOR(pg_catalog.->>) 'message', o.error::text));
		END IF;
		IF o.has_ops OR o.has_children THEN
			out := out OPERATOR(pg_catalog.||) pg_catalog.format('%ssubgraph %s ["%s"]', ind, node, label);
			classes := classes OPERATOR(pg_catalog.||)
				pg_catalog.format('    class %s %s', node, durable.graph_class(o.status));
		ELSE
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
				SELECT y.idx, y.name, y.workflow, y.items, y.status,
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

/* durable_admin reads the queue too (its policy already admitted it) */
GRANT SELECT ON durable.queue TO durable_admin;

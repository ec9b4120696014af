-- examples/usage_report.sql: a long-running usage report, as a durable workflow.
--
-- A tenant asks for a report on its API usage over a period:
--
--   SELECT usage_report.request_report('{
--     "tenantId": "acme", "period": "2025-03",
--     "prompt": "Focus on reliability.",
--     "dimensions": ["region", "endpoint"], "metrics": ["requests", "errors"],
--     "styles": ["technical", "executive",
--                {"id": "customer", "prompt": "For the customer: three short paragraphs."},
--                {"id": "risks", "prompt": "List the three biggest risks, one line each."}]}');
--
-- A style is the id of a built-in style (brief, customer, executive,
-- technical) or {"id", "prompt"}: a style with its own prompt.  The request
-- is validated and normalised (allowed dimensions and metrics only, lists
-- sorted and deduplicated).  Two keys come from it:
--   - metricsKey, the SHA-256 of the metrics spec alone {tenantId, period,
--     dimensions, metrics}: the metrics are computed once per metricsKey
--     and reused by every report on the same figures, whatever its styles
--     and prompts (events that arrive later are not counted: delete the
--     usage_report.metrics row to have the next report compute it anew);
--   - reportKey, the SHA-256 of the whole canonical request: it names the
--     execution, so asking twice for the same report gives the same
--     execution and the same report row; once the report is DONE, asking
--     again returns its artifact pointers.
-- The workflow
--
--   1. takes the stored metrics of its metricsKey, or aggregates
--      usage_events in one step (total requests, top endpoints, a
--      breakdown per dimension, day-over-day anomalies) and stores them,
--      once;
--   2. writes one narrative per style with durable_map, a child execution
--      per style: most styles call the LLM (an OpenAI-style responses API)
--      with durable_http, retried on 429 and 5xx, under the limiter "llm"
--      (the provider's concurrency and rate limits); the styles listed in the
--      setting task_styles (by default "executive") are handed to the
--      workers of the task queue "llm" with durable_task instead: an
--      external worker (examples/llm_worker.py) claims the task, calls the
--      LLM and completes the task with its answer (a 429 fails the attempt,
--      and the task comes back after the backoff of its options);
--   3. marks the report DONE with pointers to its artifacts (the metrics
--      row and one narrative row per style).
--
-- Needs: CREATE EXTENSION durable; the LLM's API key as a secret, e.g.
--   SELECT durable_secret_set('llm_api_key', 'sk-...', ARRAY['api.openai.com']);
-- and a worker of the task queue "llm" running for the task styles:
--   LLM_API_KEY=sk-... python3 examples/llm_worker.py -d 'dbname=app'
-- (connected as the role that requests the reports, or as a role it
-- granted the queue: SELECT durable_task_queue_grant('llm', 'llm_worker');)
-- test/t/012_examples.pl runs all of it against a mock LLM.

CREATE SCHEMA usage_report;

-- ---------------------------------------------------------------- tables

-- Where the LLM is.  The workflow reads these once, in a step; tests point
-- llm_url at the mock server.
CREATE TABLE usage_report.settings (
    key   text PRIMARY KEY,
    value text NOT NULL
);
INSERT INTO usage_report.settings VALUES
    ('llm_url',         'https://api.openai.com/v1/responses'),
    ('llm_model',       'gpt-4.1-mini'),
    ('llm_secret',      'llm_api_key'),   -- a durable secret: sent as "Authorization: Bearer <value>"
    ('task_styles',     'executive');     -- comma list: styles written by examples/llm_worker.py

-- What the API gateway records, one row per request.
CREATE TABLE usage_report.usage_events (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id  text NOT NULL,
    at         timestamptz NOT NULL,
    endpoint   text NOT NULL,
    method     text NOT NULL,
    region     text NOT NULL,
    status     integer NOT NULL,
    latency_ms integer NOT NULL,
    bytes_out  bigint NOT NULL DEFAULT 0
);
CREATE INDEX ON usage_report.usage_events (tenant_id, at);

-- The metrics of a metrics spec, computed once: every report on the same
-- tenant, period, dimensions and metrics reads this row.
CREATE TABLE usage_report.metrics (
    metrics_key  text PRIMARY KEY,
    tenant_id    text NOT NULL,
    spec         jsonb NOT NULL,          -- {tenantId, period, dimensions, metrics}
    metrics      jsonb NOT NULL,
    computed_for text NOT NULL,           -- the report (reportKey) that computed them
    computed_at  timestamptz NOT NULL DEFAULT now()
);

-- One row per distinct report request; status REQUESTED -> RUNNING -> DONE
-- (or FAILED).  artifacts points at what the workflow produced.
CREATE TABLE usage_report.reports (
    report_key   text PRIMARY KEY,
    metrics_key  text NOT NULL,
    tenant_id    text NOT NULL,
    spec         jsonb NOT NULL,
    execution_id uuid NOT NULL,
    status       text NOT NULL DEFAULT 'REQUESTED'
                 CHECK (status IN ('REQUESTED', 'RUNNING', 'DONE', 'FAILED')),
    artifacts    jsonb,
    error        text,
    requested_at timestamptz NOT NULL DEFAULT now(),
    done_at      timestamptz
);

-- The narratives, one per style of a report.
CREATE TABLE usage_report.narratives (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    report_key  text NOT NULL REFERENCES usage_report.reports,
    style       text NOT NULL,
    body        text NOT NULL,
    source      text NOT NULL CHECK (source IN ('http', 'task')),
    model       text,
    response_id text,
    usage       jsonb,
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (report_key, style)
);

-- ------------------------------------------------ the request and its key

-- What a request may ask for.  Each metric and dimension maps to a fixed
-- SQL expression (never user text) used by aggregate().  Styles are free
-- ids with a prompt; these have a built-in one (style_prompt).
CREATE FUNCTION usage_report.allowed_metrics() RETURNS text[]
LANGUAGE sql IMMUTABLE AS $$ SELECT ARRAY['bytes_out', 'error_rate', 'errors', 'p95_latency_ms', 'requests'] $$;
CREATE FUNCTION usage_report.allowed_dimensions() RETURNS text[]
LANGUAGE sql IMMUTABLE AS $$ SELECT ARRAY['endpoint', 'method', 'region', 'status_class'] $$;
CREATE FUNCTION usage_report.builtin_styles() RETURNS text[]
LANGUAGE sql IMMUTABLE AS $$ SELECT ARRAY['brief', 'customer', 'executive', 'technical'] $$;

-- The prompt of a built-in style (NULL for another id).
CREATE FUNCTION usage_report.style_prompt(style text)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE style
        WHEN 'executive' THEN 'Three sentences for an executive: the trend, the main risk, one recommendation.'
        WHEN 'technical' THEN 'For the engineering team: endpoints, errors, latency and every anomaly.'
        WHEN 'customer'  THEN 'For the customer: plain and friendly, no internal jargon.'
        WHEN 'brief'     THEN 'One sentence.'
    END
$$;

-- A list field of the request: an array of strings from the allowed set,
-- trimmed, lower-cased, sorted and deduplicated; at least one.
CREATE FUNCTION usage_report.normalize_list(request jsonb, field text, allowed text[])
RETURNS jsonb LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    v jsonb := request->field;
    items text[];
    bad text[];
BEGIN
    IF v IS NULL OR jsonb_typeof(v) <> 'array' OR jsonb_array_length(v) = 0 THEN
        RAISE EXCEPTION 'report request: "%" must be a non-empty array', field
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = format('Allowed values: %s.', array_to_string(allowed, ', '));
    END IF;
    IF EXISTS (SELECT FROM jsonb_array_elements(v) e WHERE jsonb_typeof(e) <> 'string') THEN
        RAISE EXCEPTION 'report request: "%" must contain strings only', field
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT array_agg(DISTINCT lower(btrim(e)) ORDER BY lower(btrim(e)))
      INTO items FROM jsonb_array_elements_text(v) e;
    SELECT array_agg(i ORDER BY i) INTO bad FROM unnest(items) i WHERE i <> ALL (allowed);
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'report request: unknown % %', field,
                        (SELECT string_agg(format('"%s"', b), ', ') FROM unnest(bad) b)
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = format('Allowed values: %s.', array_to_string(allowed, ', '));
    END IF;
    RETURN to_jsonb(items);
END $$;

-- The styles: a non-empty array (at most 10) of style ids (built-in
-- styles) or {"id", "prompt"} objects; returned as [{"id", "prompt"}]
-- sorted by id, each with its prompt (the built-in one when not given).
-- An id may appear twice only with the same prompt.
CREATE FUNCTION usage_report.normalize_styles(styles jsonb)
RETURNS jsonb LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    e jsonb;
    id text;
    prompt text;
    out jsonb := '{}';                  -- id -> prompt
BEGIN
    IF styles IS NULL OR jsonb_typeof(styles) <> 'array' OR jsonb_array_length(styles) = 0 THEN
        RAISE EXCEPTION 'report request: "styles" must be a non-empty array'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = format('Give style ids (built-in: %s) or {"id": ..., "prompt": ...} objects.',
                                array_to_string(usage_report.builtin_styles(), ', '));
    END IF;
    IF jsonb_array_length(styles) > 10 THEN
        RAISE EXCEPTION 'report request: more than 10 styles'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR e IN SELECT jsonb_array_elements(styles) LOOP
        IF jsonb_typeof(e) = 'string' THEN
            id := e #>> '{}';
            prompt := NULL;
        ELSIF jsonb_typeof(e) = 'object' AND jsonb_typeof(e->'id') = 'string'
              AND NOT EXISTS (SELECT FROM jsonb_object_keys(e) k WHERE k NOT IN ('id', 'prompt'))
              AND coalesce(jsonb_typeof(e->'prompt'), 'string') = 'string' THEN
            id := e->>'id';
            prompt := nullif(btrim(e->>'prompt'), '');
        ELSE
            RAISE EXCEPTION 'report request: a style must be a style id or {"id": ..., "prompt": ...}, not %', e
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF lower(btrim(id)) !~ '^[a-z][a-z0-9_-]{0,31}$' THEN
            RAISE EXCEPTION 'report request: invalid style id "%"', id
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'A style id is a lower-case letter, then up to 31 letters, digits, "_" or "-".';
        END IF;
        id := lower(btrim(id));
        IF length(prompt) > 2000 THEN
            RAISE EXCEPTION 'report request: the prompt of style "%" is longer than 2000 characters', id
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        prompt := coalesce(prompt, usage_report.style_prompt(id));
        IF prompt IS NULL THEN
            RAISE EXCEPTION 'report request: style "%" needs a prompt', id
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = format('Built-in styles, which have one: %s.',
                                    array_to_string(usage_report.builtin_styles(), ', '));
        END IF;
        IF out ? id AND out->>id <> prompt THEN
            RAISE EXCEPTION 'report request: style "%" is given twice with different prompts', id
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        out := out || jsonb_build_object(id, prompt);
    END LOOP;
    RETURN (SELECT jsonb_agg(jsonb_build_object('id', key, 'prompt', value) ORDER BY key)
              FROM jsonb_each_text(out));
END $$;

-- The period: "YYYY-MM" (a calendar month) or {"from": date, "to": date},
-- both days included, at most 366 days; returned as {"from", "to"} (UTC days).
CREATE FUNCTION usage_report.normalize_period(period jsonb)
RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
DECLARE
    d_from date;
    d_to date;
BEGIN
    IF jsonb_typeof(period) = 'string' AND period #>> '{}' ~ '^\d{4}-(0[1-9]|1[0-2])$' THEN
        d_from := (period #>> '{}' || '-01')::date;
        d_to := (d_from + interval '1 month' - interval '1 day')::date;
    ELSIF jsonb_typeof(period) = 'object'
          AND (SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(period) k) = ARRAY['from', 'to']
          AND period->>'from' ~ '^\d{4}-\d{2}-\d{2}$' AND period->>'to' ~ '^\d{4}-\d{2}-\d{2}$' THEN
        BEGIN
            d_from := (period->>'from')::date;
            d_to := (period->>'to')::date;
        EXCEPTION WHEN datetime_field_overflow OR invalid_datetime_format THEN
            RAISE EXCEPTION 'report request: "period" has an invalid date'
                USING ERRCODE = 'invalid_parameter_value';
        END;
        IF d_to < d_from OR d_to - d_from > 365 THEN
            RAISE EXCEPTION 'report request: "period" must run forward, at most 366 days'
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
    ELSE
        RAISE EXCEPTION 'report request: "period" must be "YYYY-MM" or {"from": "YYYY-MM-DD", "to": "YYYY-MM-DD"}'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN jsonb_build_object('from', d_from, 'to', d_to);
END $$;

-- The canonical spec of a request, or a clear error (SQLSTATE 22023).
CREATE FUNCTION usage_report.normalize_request(request jsonb)
RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
DECLARE
    unknown text;
BEGIN
    IF request IS NULL OR jsonb_typeof(request) <> 'object' THEN
        RAISE EXCEPTION 'report request must be a JSON object'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT string_agg(format('"%s"', k), ', ' ORDER BY k) INTO unknown
      FROM jsonb_object_keys(request) k
     WHERE k NOT IN ('tenantId', 'period', 'prompt', 'dimensions', 'metrics', 'styles');
    IF unknown IS NOT NULL THEN
        RAISE EXCEPTION 'report request: unknown key %', unknown
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Keys: tenantId, period, prompt, dimensions, metrics, styles.';
    END IF;
    IF jsonb_typeof(request->'tenantId') IS DISTINCT FROM 'string'
       OR btrim(request->>'tenantId') = '' THEN
        RAISE EXCEPTION 'report request: "tenantId" must be a non-empty string'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF request ? 'prompt' AND jsonb_typeof(request->'prompt') <> 'string' THEN
        RAISE EXCEPTION 'report request: "prompt" must be a string'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF length(request->>'prompt') > 2000 THEN
        RAISE EXCEPTION 'report request: "prompt" is longer than 2000 characters'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN jsonb_build_object(
        'tenantId',   btrim(request->>'tenantId'),
        'period',     usage_report.normalize_period(request->'period'),
        'prompt',     coalesce(btrim(request->>'prompt'), ''),
        'dimensions', usage_report.normalize_list(request, 'dimensions', usage_report.allowed_dimensions()),
        'metrics',    usage_report.normalize_list(request, 'metrics', usage_report.allowed_metrics()),
        'styles',     usage_report.normalize_styles(request->'styles'));
END $$;

-- The part of a canonical spec that decides the figures.
CREATE FUNCTION usage_report.metrics_spec(spec jsonb)
RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_build_object('tenantId', spec->'tenantId', 'period', spec->'period',
                              'dimensions', spec->'dimensions', 'metrics', spec->'metrics')
$$;

-- SHA-256 (hex) of a canonical spec's text.  jsonb prints its keys in a
-- fixed order and the lists are sorted, so equal requests have equal keys.
CREATE FUNCTION usage_report.spec_key(spec jsonb)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT encode(sha256(convert_to(spec::text, 'UTF8')), 'hex')
$$;

-- The metricsKey of a canonical spec: of its metrics spec alone.
CREATE FUNCTION usage_report.metrics_key(spec jsonb)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT usage_report.spec_key(usage_report.metrics_spec(spec))
$$;

-- Ask for a report.  Starts one execution per distinct request (named by
-- its reportKey) and records the report row; asking again returns the
-- same execution, and the artifact pointers once it is DONE.  Returns
-- {metricsKey, reportKey, executionId, status, spec, artifacts}.
CREATE FUNCTION usage_report.request_report(request jsonb)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    spec jsonb := usage_report.normalize_request(request);
    mkey text := usage_report.metrics_key(spec);
    rkey text := usage_report.spec_key(spec);
    execution uuid;
    report usage_report.reports;
BEGIN
    execution := durable_start('usage_report.report_workflow',
                               jsonb_build_object('metricsKey', mkey, 'reportKey', rkey, 'spec', spec),
                               name => 'usage-report:' || rkey,
                               options => jsonb_build_object('tags', jsonb_build_object(
                                   'tenant', spec->>'tenantId', 'metricsKey', mkey)));
    INSERT INTO usage_report.reports (report_key, metrics_key, tenant_id, spec, execution_id)
    VALUES (rkey, mkey, spec->>'tenantId', spec, execution)
    ON CONFLICT (report_key) DO NOTHING;
    SELECT * INTO report FROM usage_report.reports WHERE report_key = rkey;
    RETURN jsonb_build_object('metricsKey', mkey, 'reportKey', rkey, 'executionId', execution,
                              'status', report.status, 'spec', spec, 'artifacts', report.artifacts);
END $$;

-- ------------------------------------------------------------ the steps

CREATE FUNCTION usage_report.settings_json()
RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_object_agg(key, value) FROM usage_report.settings
$$;

-- The metrics of a spec: totals of the requested metrics, the top five
-- endpoints, the top five values of each requested dimension, the daily
-- request counts and the days whose count moved by 50% or more from the
-- day before (when the day before had at least 10 requests).  Days are UTC.
CREATE FUNCTION usage_report.aggregate(spec jsonb)
RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
DECLARE
    tenant text := spec->>'tenantId';
    d_from date := (spec->'period'->>'from')::date;
    d_to date := (spec->'period'->>'to')::date;
    lo timestamptz := d_from::timestamp AT TIME ZONE 'UTC';
    hi timestamptz := (d_to + 1)::timestamp AT TIME ZONE 'UTC';
    metric_sql text;
    dim text;
    dim_sql text;
    totals jsonb;
    top_endpoints jsonb;
    by_dimension jsonb := '{}';
    breakdown jsonb;
    daily jsonb;
    anomalies jsonb;
BEGIN
    -- 'name', expression, ... for jsonb_build_object, from the fixed map
    SELECT string_agg(format('%L, %s', m, CASE m
               WHEN 'requests'       THEN 'count(*)'
               WHEN 'errors'         THEN 'count(*) FILTER (WHERE status >= 500)'
               WHEN 'error_rate'     THEN 'round(count(*) FILTER (WHERE status >= 500)::numeric / greatest(count(*), 1), 4)'
               WHEN 'p95_latency_ms' THEN 'percentile_disc(0.95) WITHIN GROUP (ORDER BY latency_ms)'
               WHEN 'bytes_out'      THEN 'coalesce(sum(bytes_out), 0)'
           END), ', ' ORDER BY m)
      INTO metric_sql
      FROM jsonb_array_elements_text(spec->'metrics') m
     WHERE m = ANY (usage_report.allowed_metrics());

    EXECUTE format('SELECT jsonb_build_object(%s) FROM usage_report.usage_events
                     WHERE tenant_id = $1 AND at >= $2 AND at < $3', metric_sql)
       INTO totals USING tenant, lo, hi;

    SELECT coalesce(jsonb_agg(jsonb_build_object('endpoint', endpoint, 'requests', n)
                              ORDER BY n DESC, endpoint), '[]')
      INTO top_endpoints
      FROM (SELECT endpoint, count(*) AS n FROM usage_report.usage_events
             WHERE tenant_id = tenant AND at >= lo AND at < hi
             GROUP BY endpoint ORDER BY n DESC, endpoint LIMIT 5) t;

    FOR dim IN SELECT jsonb_array_elements_text(spec->'dimensions') LOOP
        dim_sql := CASE dim
            WHEN 'endpoint'     THEN 'endpoint'
            WHEN 'method'       THEN 'method'
            WHEN 'region'       THEN 'region'
            WHEN 'status_class' THEN '(status / 100)::text || ''xx'''
        END;
        CONTINUE WHEN dim_sql IS NULL;
        EXECUTE format('SELECT coalesce(jsonb_agg(jsonb_build_object(''value'', value, ''metrics'', metrics)
                                                 ORDER BY n DESC, value), ''[]'')
                          FROM (SELECT %s AS value, count(*) AS n, jsonb_build_object(%s) AS metrics
                                  FROM usage_report.usage_events
                                 WHERE tenant_id = $1 AND at >= $2 AND at < $3
                                 GROUP BY 1 ORDER BY n DESC, 1 LIMIT 5) t', dim_sql, metric_sql)
           INTO breakdown USING tenant, lo, hi;
        by_dimension := by_dimension || jsonb_build_object(dim, breakdown);
    END LOOP;

    WITH days AS (
        SELECT d::date AS day FROM generate_series(d_from, d_to, interval '1 day') d
    ), counts AS (
        SELECT (at AT TIME ZONE 'UTC')::date AS day, count(*) AS n
          FROM usage_report.usage_events
         WHERE tenant_id = tenant AND at >= lo AND at < hi
         GROUP BY 1
    ), series AS (
        SELECT day, coalesce(n, 0) AS requests,
               lag(coalesce(n, 0)) OVER (ORDER BY day) AS previous
          FROM days LEFT JOIN counts USING (day)
    )
    SELECT jsonb_agg(jsonb_build_object('day', day, 'requests', requests) ORDER BY day),
           coalesce(jsonb_agg(jsonb_build_object(
                        'day', day, 'requests', requests, 'previous', previous,
                        'changePct', round(100.0 * (requests - previous) / previous, 1))
                    ORDER BY day)
                    FILTER (WHERE previous >= 10 AND abs(requests - previous) >= previous / 2.0), '[]')
      INTO daily, anomalies
      FROM series;

    RETURN jsonb_build_object(
        'period', spec->'period',
        'totalRequests', (SELECT count(*) FROM usage_report.usage_events
                           WHERE tenant_id = tenant AND at >= lo AND at < hi),
        'totals', totals,
        'topEndpoints', top_endpoints,
        'byDimension', by_dimension,
        'daily', daily,
        'anomalies', anomalies);
END $$;

-- Step "aggregate-usage": the metrics of the report's metricsKey.  The
-- stored ones when another report computed them already; otherwise they
-- are computed and stored, with the step's checkpoint, once.  A lock on
-- the key makes a report that asks at the same time wait and reuse them.
-- args: {metricsKey, reportKey, spec}.
CREATE FUNCTION usage_report.store_metrics(args jsonb)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    key text := args->>'metricsKey';
    m jsonb;
BEGIN
    UPDATE usage_report.reports SET status = 'RUNNING' WHERE report_key = args->>'reportKey';
    IF NOT FOUND THEN
        -- WF010: fail at once, retrying cannot help
        RAISE EXCEPTION 'no report row for report key %', args->>'reportKey'
            USING ERRCODE = 'WF010', HINT = 'Start reports with usage_report.request_report().';
    END IF;
    PERFORM pg_advisory_xact_lock(hashtextextended('usage_report.metrics ' || key, 0));
    SELECT metrics INTO m FROM usage_report.metrics WHERE metrics_key = key;
    IF NOT FOUND THEN
        m := usage_report.aggregate(args->'spec');
        INSERT INTO usage_report.metrics (metrics_key, tenant_id, spec, metrics, computed_for)
        VALUES (key, args->'spec'->>'tenantId', usage_report.metrics_spec(args->'spec'), m,
                args->>'reportKey');
    END IF;
    RETURN m;
END $$;

-- The instruction sent to the LLM for one style {id, prompt}: the style's
-- prompt, then the request's prompt.
CREATE FUNCTION usage_report.narrative_prompt(spec jsonb, style jsonb, metrics jsonb)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT format(E'Write the %s narrative of an API usage report for tenant %s, %s to %s. %s\n%s\n'
                  'Use only these figures (JSON): %s',
                  style->>'id', spec->>'tenantId', spec->'period'->>'from', spec->'period'->>'to',
                  style->>'prompt', spec->>'prompt', metrics::text)
$$;

-- The text of an OpenAI-style responses API answer:
-- {"id", "model", "output": [{"type": "message", "content": [{"type": "output_text", "text"}]}], "usage"}
-- (other output items, such as reasoning, are skipped).
CREATE FUNCTION usage_report.response_text(response jsonb)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT string_agg(c->>'text', '' ORDER BY o.n, c.n)
      FROM jsonb_array_elements(CASE jsonb_typeof(response->'output')
                                WHEN 'array' THEN response->'output' END) WITH ORDINALITY o(item, n),
           jsonb_array_elements(CASE WHEN o.item->>'type' = 'message'
                                      AND jsonb_typeof(o.item->'content') = 'array'
                                     THEN o.item->'content' END) WITH ORDINALITY c(c, n)
     WHERE c->>'type' = 'output_text'
$$;

-- Step "store-narrative": one narrative row from an LLM answer.
-- args: {reportKey, style, source, response}.  Returns the pointer.
CREATE FUNCTION usage_report.store_narrative(args jsonb)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    txt text := usage_report.response_text(args->'response');
    narrative_id bigint;
BEGIN
    IF coalesce(btrim(txt), '') = '' THEN
        RAISE EXCEPTION 'the LLM answer for style "%" has no output text', args->>'style'
            USING ERRCODE = 'WF010', DETAIL = left((args->'response')::text, 500);
    END IF;
    INSERT INTO usage_report.narratives (report_key, style, body, source, model, response_id, usage)
    VALUES (args->>'reportKey', args->>'style', txt, args->>'source',
            args->'response'->>'model', args->'response'->>'id', args->'response'->'usage')
    RETURNING id INTO narrative_id;
    RETURN jsonb_build_object('style', args->>'style', 'narrativeId', narrative_id,
                              'source', args->>'source');
END $$;

-- Step "mark-done": the report is DONE; artifacts lists where its parts
-- are: {"metrics": {"table", "metricsKey"}, "narratives": [{"style",
-- "narrativeId", "source"}, ...]}.
CREATE FUNCTION usage_report.mark_done(args jsonb)
RETURNS jsonb LANGUAGE sql AS $$
    UPDATE usage_report.reports r
       SET status = 'DONE', done_at = now(),
           artifacts = jsonb_build_object(
               'metrics', jsonb_build_object('table', 'usage_report.metrics',
                                             'metricsKey', r.metrics_key),
               'narratives', (SELECT jsonb_agg(x->'result' ORDER BY (x->>'index')::int)
                                FROM jsonb_array_elements(args->'results') x))
      FROM usage_report.metrics m
     WHERE r.report_key = args->>'reportKey' AND m.metrics_key = r.metrics_key
    RETURNING jsonb_build_object('metricsKey', r.metrics_key, 'reportKey', r.report_key,
                                 'status', r.status,
                                 'totalRequests', m.metrics->'totalRequests',
                                 'anomalies', jsonb_array_length(m.metrics->'anomalies'),
                                 'artifacts', r.artifacts)
$$;

-- ----------------------------------------------------------- flow control

-- The LLM provider's limits, shared by every report and both ways of
-- calling it (durable_http here, the task queue's workers): at most 8 calls
-- at once and 60 a minute, at most 10 of them at once after a quiet spell.
-- A call waits for the limiter holding no worker, and a 429 with
-- Retry-After pauses the limiter for every report until then, so a
-- month-end burst of reports stays under the provider's rate limit.
-- (docs/limiters.md; change it with durable_limiter_set.)
SELECT durable_limiter_set('llm', '{"max_concurrency": 8, "rate": 60, "period": "1 minute", "burst": 10}');

-- ------------------------------------------------------------ workflows

-- The report.  Input {metricsKey, reportKey, spec} (see request_report).
CREATE FUNCTION usage_report.report_workflow(input jsonb)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    key text := input->>'reportKey';
    spec jsonb := input->'spec';
    cfg jsonb;
    metrics jsonb;
    items jsonb;
    narratives jsonb;
BEGIN
    cfg := durable_step('load-settings', 'SELECT usage_report.settings_json()');
    metrics := durable_step('aggregate-usage', 'SELECT usage_report.store_metrics($1)', input);

    -- one map item per style, with everything its child needs (built from
    -- checkpointed values only, so every replay builds the same items)
    SELECT jsonb_agg(jsonb_build_object(
               'reportKey', key,
               'style', s->>'id',
               'mode', CASE WHEN s->>'id' = ANY (string_to_array(cfg->>'task_styles', ','))
                            THEN 'task' ELSE 'http' END,
               'url', cfg->>'llm_url',
               'secret', cfg->>'llm_secret',
               'request', jsonb_build_object(
                   'model', cfg->>'llm_model',
                   'input', usage_report.narrative_prompt(spec, s, metrics),
                   'metadata', jsonb_build_object('style', s->>'id')))
               ORDER BY n)
      INTO items
      FROM jsonb_array_elements(spec->'styles') WITH ORDINALITY AS t(s, n);

    BEGIN
        narratives := durable_map('narratives', items, 'usage_report.write_narrative',
                                  '{"max_concurrency": 4}');
    EXCEPTION WHEN SQLSTATE 'WF006' THEN
        -- a style failed for good: say so in the report, then fail
        PERFORM durable_step('mark-failed',
            'UPDATE usage_report.reports SET status = ''FAILED'', error = $1->>''error'', done_at = now()
              WHERE report_key = $1->>''reportKey'' RETURNING status',
            jsonb_build_object('reportKey', key, 'error', SQLERRM));
        RAISE;
    END;

    RETURN durable_step('mark-done', 'SELECT usage_report.mark_done($1)',
                        jsonb_build_object('reportKey', key, 'results', narratives->'results'));
END $$;

-- One narrative: a child execution of the map.  Input {item, index}.
CREATE FUNCTION usage_report.write_narrative(input jsonb)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    job jsonb := input->'item';
    response jsonb;
BEGIN
    IF job->>'mode' = 'task' THEN
        -- A worker of the task queue "llm" (examples/llm_worker.py) claims
        -- the task, calls the LLM and completes it with the LLM's answer; a
        -- failed attempt (a 429, a lost lease) comes back after the backoff.
        response := durable_task('llm-task', 'llm',
            jsonb_build_object('url', job->>'url', 'request', job->'request',
                               'style', job->>'style',
                               'taskKey', encode(sha256(convert_to(
                                   (job->>'reportKey') || '/' || (job->>'style'), 'UTF8')), 'hex')),
            '{"timeout": "1 hour", "heartbeat_timeout": "5 minutes", "max_attempts": 5,
              "initial_delay": "1 second", "jitter": "none", "limiter": "llm"}');
    ELSE
        -- Retried on connection errors, timeouts, 429 (honouring
        -- Retry-After) and 5xx; any other status >= 400 fails at once.
        response := durable_http('llm',
            jsonb_build_object(
                'method', 'POST',
                'url', job->>'url',
                'headers', jsonb_build_object(
                    'Authorization', jsonb_build_object('secret', job->>'secret', 'prefix', 'Bearer ')),
                'body', job->'request',
                'timeout', '2 minutes'),
            '{"max_attempts": 5, "initial_delay": "1 second", "fail_on_status": true,
              "limiter": "llm"}')->'body';
    END IF;
    RETURN durable_step('store-narrative', 'SELECT usage_report.store_narrative($1)',
                        jsonb_build_object('reportKey', job->>'reportKey', 'style', job->>'style',
                                           'source', job->>'mode', 'response', response));
END $$;

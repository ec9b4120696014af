-- demo/demo.sql - a payment workflow run by the background workers.
-- Run by demo/run.sh against a scratch cluster with durable preloaded
-- (psql -q, ON_ERROR_STOP, aligned output).

\echo '### 1. Install the extension and the application code.'
\echo '    orders is an ordinary table; validate_order, authorize_payment and'
\echo '    capture_payment are ordinary SQL/PL/pgSQL functions.'
CREATE EXTENSION durable;
CREATE TABLE orders(id int primary key, status text);
CREATE FUNCTION validate_order(input jsonb) RETURNS jsonb LANGUAGE sql AS $$ SELECT input || '{"valid": true}' $$;
CREATE FUNCTION authorize_payment(o jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$ BEGIN INSERT INTO orders VALUES ((o->>'orderId')::int, 'authorized'); RETURN o || '{"authorized": true}'; END $$;
CREATE FUNCTION capture_payment(p jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$ BEGIN UPDATE orders SET status = 'captured' WHERE id = (p->>'orderId')::int; RETURN p || '{"captured": true}'; END $$;

\echo
\echo '### 2. The workflow "pay" is a plain PL/pgSQL function.'
\echo '    Each durable_step() runs its query once and checkpoints the result;'
\echo '    on replay the checkpoint is returned instead of running it again.'
\echo '    "authorize" is retried up to 5 times with backoff starting at 2 s.'
\echo '    durable_wait() suspends the execution for 2 seconds without holding'
\echo '    a backend or a transaction open.'
CREATE FUNCTION pay(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE o jsonb; p jsonb;
BEGIN
  o := durable_step('validate-order', 'SELECT validate_order($1)', input);
  p := durable_step('authorize', 'SELECT authorize_payment($1)', o,
                    '{"max_attempts": 5, "initial_delay": "2 seconds"}');
  PERFORM durable_wait('settle', interval '2 seconds');
  RETURN durable_step('capture', 'SELECT capture_payment($1)', p);
END $$;

\echo
\echo '### 3. Start an execution of "pay" named order-42.  Nothing else drives'
\echo '    it: when this statement commits, a background worker is woken.'
SELECT durable_start('pay', '{"orderId": 42}', name => 'order-42');

\echo
\echo '### 4. Wait up to half a second for it: validate-order and authorize'
\echo '    have run, and it sleeps on its 2-second timer (SUSPENDED).'
SELECT durable_await('order-42', '0.5 seconds') AS status;
SELECT name, status, current_operation, wake_at - created_at AS sleeps_until
  FROM durable_status('order-42');

\echo
\echo '### 5. The workers, as pg_stat_activity shows them.'
SELECT backend_type, state, wait_event FROM pg_stat_activity
 WHERE backend_type LIKE 'durable%' ORDER BY backend_type;

\echo
\echo '### 6. Wait until it finishes: the worker fires the timer on time,'
\echo '    replays from the checkpoints (no step runs twice) and runs capture.'
SELECT durable_await('order-42', '30 seconds') AS status;

\echo
\echo '### 7. Final state of the execution.'
SELECT name, workflow, status, result, finished_at - created_at AS took
  FROM durable_status('order-42');

\echo
\echo '### 8. Its history: every step, wait and checkpoint that was recorded.'
SELECT event_id, event, name, kind, details FROM durable_history('order-42');

\echo
\echo '### 9. Side effects happened exactly once: one row, captured.'
SELECT * FROM orders;

\echo
\echo '### 10. What the workers did, from the counters in shared memory.'
SELECT started, succeeded, steps, timers_fired, claims, wake_to_run_avg_ms, workers
  FROM durable.stats;

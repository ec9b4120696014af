-- demo/demo.sql - a payment workflow that survives waits and crashes.
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
\echo '    durable_wait() suspends the execution for 5 minutes without holding'
\echo '    a backend or a transaction open.'
CREATE FUNCTION pay(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE o jsonb; p jsonb;
BEGIN
  o := durable_step('validate-order', 'SELECT validate_order($1)', input);
  p := durable_step('authorize', 'SELECT authorize_payment($1)', o,
                    '{"max_attempts": 5, "initial_delay": "2 seconds"}');
  PERFORM durable_wait('settle', interval '5 minutes');
  RETURN durable_step('capture', 'SELECT capture_payment($1)', p);
END $$;

\echo
\echo '### 3. Start an execution of "pay" named order-42.'
SELECT durable_start('pay', '{"orderId": 42}', name => 'order-42');

\echo
\echo '### 4. Drive it: validate-order and authorize run and are checkpointed,'
\echo '    then the 5-minute wait suspends it (status SUSPENDED).'
SELECT durable_drive('order-42');

\echo
\echo '### 5. Instead of sleeping 5 minutes, move the durable clock forward.'
SET durable.clock_offset = '6 minutes';

\echo
\echo '### 6. Drive everything that is due: the timer has fired, so order-42'
\echo '    replays from its checkpoints (no step runs twice), runs capture'
\echo '    and completes.'
SELECT durable_drive_pending();

\echo
\echo '### 7. Final state of the execution.'
SELECT name, workflow, status, result FROM durable_status('order-42');

\echo
\echo '### 8. Its history: every step, wait and checkpoint that was recorded.'
SELECT * FROM durable_history('order-42');

\echo
\echo '### 9. Side effects happened exactly once: one row, captured.'
SELECT * FROM orders;

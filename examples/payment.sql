-- examples/payment.sql: a card payment, as a durable workflow (a saga).
--
--   SELECT payments.start_payment('{"orderId": "ORD-42", "amountCents": 1999,
--                                   "currency": "EUR", "source": "tok_visa"}');
--
-- The workflow
--
--   1. validates the payment (a step that records it);
--   2. authorizes it at the payment provider (durable_http, retried on
--      connection errors, timeouts, 429 and 5xx);
--   3. waits five minutes for the payment to settle (a durable timer: no
--      process and no transaction wait meanwhile);
--   4. captures it.
--
-- Every call to the provider carries an explicit Idempotency-Key made of
-- the payment id (the execution's name, "pay-<orderId>") and the call
-- ("pay-ORD-42:authorize", ":capture", ":void"): the same on every retry
-- and replay, so the provider never acts twice on one call.
--
-- What can go wrong, and what the payment ends as:
--   - invalid input: REJECTED with reasons, nothing sent to the provider;
--   - a declined authorization (a 4xx such as 402 or 404, or a body that
--     says "declined"): DECLINED; nothing is held at the provider, so
--     nothing is voided;
--   - a provider that stays unreachable (connection errors, timeouts, 5xx
--     until the retries run out): it may have authorized a request whose
--     answer was lost, so the compensation voids whatever it holds for
--     the payment's reference; DECLINED;
--   - a capture that fails for good: the compensation voids the
--     authorization; VOIDED.
-- The compensation takes a 404 of the void as "nothing to void" (the
-- provider holds no authorization for the payment), not as an error.  The
-- workflow returns {"paymentId", "outcome": "captured" | "declined" |
-- "rejected" | "provider_error" | "capture_failed", "reason", "voided"...}.
--
-- Needs: CREATE EXTENSION durable; the provider's API key as a secret, e.g.
--   SELECT durable_secret_set('payments_api_key', 'sk_live_...', ARRAY['api.payments.example']);
-- test/t/012_examples.pl runs it against a mock provider.

CREATE SCHEMA payments;

-- ---------------------------------------------------------------- tables

CREATE TABLE payments.settings (
    key   text PRIMARY KEY,
    value text NOT NULL
);
INSERT INTO payments.settings VALUES
    ('authorize_url',   'https://api.payments.example/v1/authorizations'),
    ('capture_url',     'https://api.payments.example/v1/captures'),
    ('void_url',        'https://api.payments.example/v1/voids'),
    ('provider_secret', 'payments_api_key');   -- a durable secret: "Authorization: Bearer <value>"

CREATE TABLE payments.payments (
    id               text PRIMARY KEY,       -- "pay-<orderId>", the execution's name
    order_id         text NOT NULL,
    amount_cents     bigint,
    currency         text,
    status           text NOT NULL
                     CHECK (status IN ('VALIDATED', 'REJECTED', 'AUTHORIZED', 'CAPTURED',
                                       'DECLINED', 'VOIDED')),
    authorization_id text,
    capture_id       text,
    reason           text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);

-- Everything that happened to a payment, with the key of each provider call.
CREATE TABLE payments.payment_events (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    payment_id      text NOT NULL REFERENCES payments.payments,
    event           text NOT NULL,   -- validated, rejected, authorized, declined, captured,
                                     -- voided, nothing_to_void
    idempotency_key text,
    http_status     integer,
    details         jsonb,
    at              timestamptz NOT NULL DEFAULT now()
);

-- ------------------------------------------------------ starting a payment

-- One execution per order, named pay-<orderId>: starting it twice returns
-- the same execution.
CREATE FUNCTION payments.start_payment(payment jsonb)
RETURNS uuid LANGUAGE plpgsql AS $$
BEGIN
    IF jsonb_typeof(payment->'orderId') IS DISTINCT FROM 'string' OR btrim(payment->>'orderId') = '' THEN
        RAISE EXCEPTION 'payment: "orderId" must be a non-empty string'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN durable_start('payments.payment',
                         payment || jsonb_build_object('paymentId', 'pay-' || (payment->>'orderId')),
                         name => 'pay-' || (payment->>'orderId'));
END $$;

-- ------------------------------------------------------------ the steps

CREATE FUNCTION payments.settings_json()
RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_object_agg(key, value) FROM payments.settings
$$;

-- Step "validate": records the payment, VALIDATED or REJECTED with reasons.
CREATE FUNCTION payments.validate(input jsonb)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    reasons text[] := '{}';
    amount bigint;
BEGIN
    IF jsonb_typeof(input->'amountCents') = 'number' AND (input->>'amountCents') ~ '^\d{1,12}$' THEN
        amount := (input->>'amountCents')::bigint;
    END IF;
    IF amount IS NULL OR amount < 1 OR amount > 1000000 THEN
        reasons := array_append(reasons, 'amountCents must be a whole number from 1 to 1000000');
    END IF;
    IF coalesce(input->>'currency', '') NOT IN ('EUR', 'USD', 'GBP') THEN
        reasons := array_append(reasons, 'currency must be EUR, USD or GBP');
    END IF;
    IF coalesce(input->>'source', '') !~ '^tok_\w+$' THEN
        reasons := array_append(reasons, 'source must be a card token (tok_...)');
    END IF;
    INSERT INTO payments.payments (id, order_id, amount_cents, currency, status, reason)
    VALUES (input->>'paymentId', input->>'orderId', amount, input->>'currency',
            CASE WHEN reasons = '{}' THEN 'VALIDATED' ELSE 'REJECTED' END,
            nullif(array_to_string(reasons, '; '), ''));
    INSERT INTO payments.payment_events (payment_id, event, details)
    VALUES (input->>'paymentId', CASE WHEN reasons = '{}' THEN 'validated' ELSE 'rejected' END,
            jsonb_build_object('reasons', to_jsonb(reasons)));
    RETURN jsonb_build_object('valid', reasons = '{}', 'reasons', to_jsonb(reasons),
                              'amountCents', amount, 'currency', input->>'currency',
                              'source', input->>'source');
END $$;

-- A POST to the provider: the secret API key and the idempotency key.
CREATE FUNCTION payments.provider_call(url text, secret text, idempotency_key text, body jsonb)
RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_build_object(
        'method', 'POST', 'url', url,
        'headers', jsonb_build_object(
            'Authorization', jsonb_build_object('secret', secret, 'prefix', 'Bearer '),
            'Idempotency-Key', idempotency_key),
        'body', body,
        'timeout', '30 seconds')
$$;

-- Step "record-authorization": the provider's answer decides.  2xx without
-- a decline in the body: AUTHORIZED; 402, another 4xx, or a body saying
-- "declined": DECLINED; no answer at all (status 0): provider_error (the
-- status stays VALIDATED until the compensation has run).
CREATE FUNCTION payments.record_authorization(args jsonb)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    pid text := args->>'paymentId';
    code int := (args->'response'->>'status')::int;
    body jsonb := CASE WHEN jsonb_typeof(args->'response'->'body') = 'object'
                       THEN args->'response'->'body' ELSE '{}' END;
    auth_id text := coalesce(body->>'id', body->>'authorizationId');
    outcome text;
    why text;
BEGIN
    IF code BETWEEN 200 AND 299
       AND coalesce(body->>'status', '') <> 'declined' AND coalesce(body->>'declined', '') <> 'true' THEN
        outcome := 'authorized';
    ELSIF code BETWEEN 200 AND 499 THEN
        outcome := 'declined';
        why := coalesce(body->>'decline_reason', body->'error'->>'message', body->>'message',
                        format('the provider answered HTTP %s', code));
    ELSE
        outcome := 'provider_error';
        why := coalesce(args->'response'->>'error', format('the provider answered HTTP %s', code));
    END IF;
    UPDATE payments.payments
       SET status = CASE outcome WHEN 'authorized' THEN 'AUTHORIZED'
                                 WHEN 'declined' THEN 'DECLINED' ELSE status END,
           authorization_id = auth_id, reason = coalesce(why, reason), updated_at = now()
     WHERE id = pid;
    INSERT INTO payments.payment_events (payment_id, event, idempotency_key, http_status, details)
    VALUES (pid, CASE outcome WHEN 'authorized' THEN 'authorized' ELSE 'declined' END,
            args->>'idempotencyKey', nullif(code, 0),
            jsonb_strip_nulls(jsonb_build_object('authorizationId', auth_id, 'reason', why)));
    RETURN jsonb_build_object('outcome', outcome, 'authorizationId', auth_id, 'reason', why);
END $$;

-- Step "record-void": the compensation, recorded.  The void's status
-- decides: 2xx voided; 404 nothing to void (the provider holds no
-- authorization for this payment); anything else is for a person to look
-- at (WF010 fails the compensation at once, the payment stays as it was).
-- A payment whose provider never answered ends DECLINED, a payment whose
-- capture failed VOIDED.
CREATE FUNCTION payments.record_void(args jsonb)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    code int := (args->>'httpStatus')::int;
    voided boolean := code BETWEEN 200 AND 299;
BEGIN
    IF NOT voided AND code IS DISTINCT FROM 404 THEN
        RAISE EXCEPTION 'the provider refused to void payment %: HTTP %', args->>'paymentId', code
            USING ERRCODE = 'WF010', DETAIL = left(args->>'body', 500),
                  HINT = 'Settle it with the provider, then record the outcome in payments.payments.';
    END IF;
    UPDATE payments.payments
       SET status = CASE args->>'outcome' WHEN 'capture_failed' THEN 'VOIDED' ELSE 'DECLINED' END,
           reason = args->>'reason', updated_at = now()
     WHERE id = args->>'paymentId';
    INSERT INTO payments.payment_events (payment_id, event, idempotency_key, http_status, details)
    VALUES (args->>'paymentId', CASE WHEN voided THEN 'voided' ELSE 'nothing_to_void' END,
            args->>'idempotencyKey', code,
            jsonb_strip_nulls(jsonb_build_object('authorizationId', args->>'authorizationId',
                                                 'reason', args->>'reason')));
    RETURN jsonb_build_object('paymentId', args->>'paymentId', 'outcome', args->>'outcome',
                              'reason', args->>'reason', 'voided', voided);
END $$;

-- Step "record-capture".
CREATE FUNCTION payments.record_capture(args jsonb)
RETURNS jsonb LANGUAGE sql AS $$
    UPDATE payments.payments
       SET status = 'CAPTURED', updated_at = now(),
           capture_id = coalesce(args->'response'->'body'->>'id', args->'response'->'body'->>'captureId')
     WHERE id = args->>'paymentId';
    INSERT INTO payments.payment_events (payment_id, event, idempotency_key, http_status, details)
    VALUES (args->>'paymentId', 'captured', args->>'idempotencyKey',
            (args->'response'->>'status')::int,
            jsonb_build_object('captureId', coalesce(args->'response'->'body'->>'id',
                                                     args->'response'->'body'->>'captureId')))
    RETURNING jsonb_build_object('paymentId', payment_id, 'outcome', 'captured',
                                 'amountCents', (args->>'amountCents')::bigint,
                                 'currency', args->>'currency',
                                 'authorizationId', args->>'authorizationId',
                                 'captureId', details->>'captureId');
$$;

-- ------------------------------------------------------------ workflows

-- The compensation, run as a child context (durable_child): void the
-- authorization at the provider (by its id when there is one, and by the
-- payment's reference), then record it.  Retried for a long time on
-- connection errors, timeouts, 429 and 5xx: a void must get through.
-- Other statuses are results that record_void judges (404: nothing to
-- void).  Input {paymentId, cfg, authorizationId, amountCents, outcome,
-- reason}.
CREATE FUNCTION payments.compensate(input jsonb)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    key text := (input->>'paymentId') || ':void';
    voided jsonb;
BEGIN
    voided := durable_http('void',
        payments.provider_call(input->'cfg'->>'void_url', input->'cfg'->>'provider_secret', key,
                               jsonb_build_object('reference', input->>'paymentId',
                                                  'authorization', input->>'authorizationId',
                                                  'amount', input->'amountCents',
                                                  'reason', input->>'reason')),
        '{"max_attempts": 10, "initial_delay": "5 seconds", "max_delay": "10 minutes"}');
    RETURN durable_step('record-void', 'SELECT payments.record_void($1)',
        jsonb_build_object('paymentId', input->>'paymentId', 'outcome', input->>'outcome',
                           'reason', input->>'reason', 'authorizationId', input->>'authorizationId',
                           'idempotencyKey', key, 'httpStatus', voided->'status',
                           'body', voided->'body'));
END $$;

-- The payment.  Input {paymentId, orderId, amountCents, currency, source}.
CREATE FUNCTION payments.payment(input jsonb)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    pid text := input->>'paymentId';
    cfg jsonb;
    p jsonb;
    response jsonb;
    auth jsonb;
    captured jsonb;
BEGIN
    cfg := durable_step('load-settings', 'SELECT payments.settings_json()');

    -- 1. validate
    p := durable_step('validate', 'SELECT payments.validate($1)', input);
    IF NOT (p->>'valid')::boolean THEN
        RETURN jsonb_build_object('paymentId', pid, 'outcome', 'rejected', 'reasons', p->'reasons');
    END IF;

    -- 2. authorize; 4xx answers are results, retries exhausted raise WF015
    BEGIN
        response := durable_http('authorize',
            payments.provider_call(cfg->>'authorize_url', cfg->>'provider_secret', pid || ':authorize',
                                   jsonb_build_object('reference', pid, 'amount', p->'amountCents',
                                                      'currency', p->'currency', 'source', p->'source')),
            '{"max_attempts": 5, "initial_delay": "2 seconds"}');
    EXCEPTION WHEN SQLSTATE 'WF015' THEN
        response := jsonb_build_object('status', 0, 'error', SQLERRM);
    END;
    auth := durable_step('record-authorization', 'SELECT payments.record_authorization($1)',
        jsonb_build_object('paymentId', pid, 'idempotencyKey', pid || ':authorize', 'response', response));
    IF auth->>'outcome' = 'declined' THEN
        -- recorded DECLINED by the step; a declined authorization holds
        -- nothing at the provider, so there is nothing to void
        PERFORM durable_log('info', 'payment declined', jsonb_build_object('reason', auth->>'reason'));
        RETURN jsonb_build_object('paymentId', pid, 'outcome', 'declined', 'reason', auth->>'reason',
                                  'voided', false);
    ELSIF auth->>'outcome' = 'provider_error' THEN
        -- the provider may have authorized a request whose answer was lost:
        -- compensate, voiding whatever it holds for this payment
        PERFORM durable_log('warning', 'the provider did not answer; voiding by reference',
                            jsonb_build_object('reason', auth->>'reason'));
        RETURN durable_child('compensate', 'payments.compensate', jsonb_build_object(
            'paymentId', pid, 'cfg', cfg, 'authorizationId', auth->>'authorizationId',
            'amountCents', p->'amountCents', 'outcome', 'provider_error', 'reason', auth->>'reason'));
    END IF;

    -- 3. settle
    PERFORM durable_wait('settle', interval '5 minutes');

    -- 4. capture; a capture that fails for good voids the authorization
    BEGIN
        response := durable_http('capture',
            payments.provider_call(cfg->>'capture_url', cfg->>'provider_secret', pid || ':capture',
                                   jsonb_build_object('reference', pid, 'authorization', auth->>'authorizationId',
                                                      'amount', p->'amountCents', 'currency', p->'currency')),
            '{"max_attempts": 5, "initial_delay": "2 seconds", "fail_on_status": true}');
    EXCEPTION WHEN SQLSTATE 'WF015' THEN
        PERFORM durable_log('warning', 'the capture failed; voiding the authorization',
                            jsonb_build_object('error', SQLERRM));
        RETURN durable_child('compensate', 'payments.compensate', jsonb_build_object(
            'paymentId', pid, 'cfg', cfg, 'authorizationId', auth->>'authorizationId',
            'amountCents', p->'amountCents', 'outcome', 'capture_failed', 'reason', SQLERRM));
    END;
    RETURN durable_step('record-capture', 'SELECT payments.record_capture($1)',
        jsonb_build_object('paymentId', pid, 'idempotencyKey', pid || ':capture', 'response', response,
                           'amountCents', p->'amountCents', 'currency', p->'currency',
                           'authorizationId', auth->>'authorizationId'));
END $$;

-- demo/demo.sql - part 1 of the demo: a support ticket is triaged by the
-- background workers until it waits for an agent.  Run by demo/run.sh
-- (psql -q, ON_ERROR_STOP, -v mock=<URL of the mock LLM and mailer>);
-- part 2 is demo/resolved.sql.

\echo '### 1. Install durable and the ticket triage example (examples/ticket_triage.sql):'
\echo '    tables, steps, and the workflow triage.ticket_triage.'
CREATE EXTENSION durable;
\ir ticket_triage.sql

\echo
\echo '### 2. Point it at the mock server: an OpenAI-style LLM that answers the'
\echo '    first call of each request with 429 (fail=429x1), and a mailer.'
\echo '    The LLM API key is a secret, sent only to 127.0.0.1 and readable by no SQL.'
UPDATE triage.settings SET value = :'mock' || '/v1/responses?fail=429x1' WHERE key = 'llm_url';
UPDATE triage.settings SET value = :'mock' || '/echo' WHERE key = 'mailer_url';
DO $$ BEGIN PERFORM durable_secret_set('llm_api_key', 'sk-demo-key', ARRAY['127.0.0.1']); END $$;
SELECT name, owner, allowed_hosts FROM durable_secrets();
TABLE triage.settings;

\echo
\echo '### 3. A ticket arrives: the ticketing system stores it and starts its'
\echo '    triage, named ticket-TKT-1001, in one transaction.'
SELECT triage.submit_ticket('{"ticketId": "TKT-1001", "email": "kim@example.com",
  "subject": "Invoice charged twice", "body": "Our card was charged twice for the March invoice."}')
  AS execution_id;

\echo
\echo '### 4. The workers run it: the LLM analysis (its 429 retried after the'
\echo '    Retry-After delay, on a durable timer), then the agent review: a'
\echo '    callback whose id goes on the ticket and into the review queue.'
DO $$
BEGIN
  FOR i IN 1..300 LOOP
    PERFORM FROM triage.tickets WHERE id = 'TKT-1001' AND status = 'AWAITING_AGENT';
    IF FOUND THEN RETURN; END IF;
    PERFORM pg_sleep(0.1);
  END LOOP;
  RAISE EXCEPTION 'ticket TKT-1001 was not queued for an agent within 30 seconds';
END $$;
SELECT name, status, current_operation FROM durable_status('ticket-TKT-1001');
\echo 'What the ticketing system sees:'
SELECT id, status, analysis->>'category' AS category, analysis->>'priority' AS priority,
       analysis->>'sentiment' AS sentiment, analysis->>'needsEscalation' AS escalate, review_callback_id
  FROM triage.tickets;

-- examples/ticket_triage.sql: support ticket triage, as a durable workflow.
--
--   SELECT triage.submit_ticket('{"ticketId": "TKT-1001", "email": "kim@example.com",
--     "subject": "Invoice charged twice", "body": "We were billed twice in March."}');
--
-- For each ticket the workflow
--
--   1. asks an LLM (an OpenAI-style responses API, durable_http, retried on
--      429 and 5xx) to classify it; a model that does not answer with the
--      requested JSON, or does not answer at all, gets a rule-based analysis
--      of its answer and the ticket;
--   2. waits for an agent's review: a callback whose submitter puts the
--      callback id on the ticket and in the review queue, where the
--      ticketing system finds it; the agent's decision completes it:
--        SELECT durable_callback_success(review_callback_id,
--                 '{"agent": "ana", "reply": "Refunded.", "escalate": false}')
--          FROM triage.tickets WHERE id = 'TKT-1001';
--   3. waits for a specialist's review the same way, only when the analysis
--      or the agent says the ticket needs escalation;
--   4. sends the reply (an HTTP call to the mailer) and schedules the
--      satisfaction survey, in parallel (durable_parallel);
--   5. marks the ticket RESOLVED and returns the resolution.
--
-- Needs: CREATE EXTENSION durable; the LLM's API key as a secret, e.g.
--   SELECT durable_secret_set('llm_api_key', 'sk-...', ARRAY['api.openai.com']);
-- demo/run.sh runs it end to end against a mock LLM and mailer, and so does
-- test/t/012_examples.pl.

CREATE SCHEMA triage;

-- ---------------------------------------------------------------- tables

-- Where the LLM and the mailer are.  Read once per ticket, in a step.
CREATE TABLE triage.settings (
    key   text PRIMARY KEY,
    value text NOT NULL
);
INSERT INTO triage.settings VALUES
    ('llm_url',    'https://api.openai.com/v1/responses'),
    ('llm_model',  'gpt-4.1-mini'),
    ('llm_secret', 'llm_api_key'),          -- a durable secret: "Authorization: Bearer <value>"
    ('mailer_url', 'https://mailer.example.com/v1/messages');

CREATE TABLE triage.tickets (
    id                 text PRIMARY KEY,
    email              text NOT NULL,
    customer           text,
    subject            text NOT NULL,
    body               text NOT NULL,
    status             text NOT NULL DEFAULT 'NEW'
                       CHECK (status IN ('NEW', 'AWAITING_AGENT', 'AWAITING_SPECIALIST',
                                         'REPLYING', 'RESOLVED')),
    analysis           jsonb,
    agent_review       jsonb,
    specialist_review  jsonb,
    escalated          boolean NOT NULL DEFAULT false,
    -- the callback the ticketing system completes when the open review is done
    review_callback_id text,
    resolution         jsonb,
    execution_id       uuid,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now()
);

-- What agents and specialists see in their inbox.
CREATE TABLE triage.review_queue (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    callback_id  text NOT NULL UNIQUE,
    ticket_id    text NOT NULL REFERENCES triage.tickets,
    kind         text NOT NULL CHECK (kind IN ('agent', 'specialist')),
    context      jsonb NOT NULL,            -- the analysis (and the agent's review)
    decision     jsonb,
    queued_at    timestamptz NOT NULL DEFAULT now(),
    completed_at timestamptz
);

-- Replies sent through the mailer.
CREATE TABLE triage.messages (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ticket_id      text NOT NULL REFERENCES triage.tickets,
    recipient      text NOT NULL,
    subject        text NOT NULL,
    body           text NOT NULL,
    mailer_status  integer NOT NULL,
    mailer_message text,                    -- the mailer's message id, when it gives one
    sent_at        timestamptz NOT NULL DEFAULT now()
);

-- Satisfaction surveys to send, one per resolved ticket.
CREATE TABLE triage.surveys (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ticket_id  text NOT NULL UNIQUE REFERENCES triage.tickets,
    email      text NOT NULL,
    token      uuid NOT NULL DEFAULT gen_random_uuid(),
    send_after timestamptz NOT NULL,
    answered   smallint CHECK (answered BETWEEN 1 AND 5)
);

-- ------------------------------------------------------ starting a triage

-- The ticketing system calls this when a ticket arrives: the ticket row and
-- its triage execution (named ticket-<id>) commit together.
CREATE FUNCTION triage.submit_ticket(ticket jsonb)
RETURNS uuid LANGUAGE plpgsql AS $$
DECLARE
    f text;
    execution uuid;
BEGIN
    FOREACH f IN ARRAY ARRAY['ticketId', 'email', 'subject', 'body'] LOOP
        IF jsonb_typeof(ticket->f) IS DISTINCT FROM 'string' OR btrim(ticket->>f) = '' THEN
            RAISE EXCEPTION 'ticket: "%" must be a non-empty string', f
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
    END LOOP;
    execution := durable_start('triage.ticket_triage', ticket, name => 'ticket-' || (ticket->>'ticketId'),
                               options => '{"execution_timeout": "14 days"}');
    INSERT INTO triage.tickets (id, email, customer, subject, body, execution_id)
    VALUES (ticket->>'ticketId', ticket->>'email', ticket->>'customer',
            ticket->>'subject', ticket->>'body', execution)
    ON CONFLICT (id) DO NOTHING;
    RETURN execution;
END $$;

-- ------------------------------------------------------------ the steps

CREATE FUNCTION triage.settings_json()
RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_object_agg(key, value) FROM triage.settings
$$;

-- The request to the LLM.
CREATE FUNCTION triage.analysis_request(ticket jsonb, model text)
RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_build_object(
        'model', model,
        'instructions', 'You triage customer support tickets. Answer with JSON only: '
                        '{"category": "billing|bug|outage|security|account|question", '
                        '"priority": "low|normal|high|urgent", "needsEscalation": true|false, '
                        '"summary": "...", "suggestedReply": "..."}',
        'input', format(E'%s\n\n%s', ticket->>'subject', ticket->>'body'),
        'metadata', jsonb_build_object('style', 'triage'))
$$;

-- The text of an OpenAI-style responses API answer (its message items).
CREATE FUNCTION triage.response_text(response jsonb)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT string_agg(c->>'text', '' ORDER BY o.n, c.n)
      FROM jsonb_array_elements(CASE jsonb_typeof(response->'output')
                                WHEN 'array' THEN response->'output' END) WITH ORDINALITY o(item, n),
           jsonb_array_elements(CASE WHEN o.item->>'type' = 'message'
                                      AND jsonb_typeof(o.item->'content') = 'array'
                                     THEN o.item->'content' END) WITH ORDINALITY c(c, n)
     WHERE c->>'type' = 'output_text'
$$;

-- The model's answer as an analysis {category, priority, needsEscalation,
-- summary, suggestedReply, source}: its JSON when it gave the JSON asked
-- for, otherwise rules on the words of its answer and of the ticket.
CREATE FUNCTION triage.parse_analysis(ticket jsonb, answer text)
RETURNS jsonb LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    j jsonb;
    words text := lower(concat_ws(' ', answer, ticket->>'subject', ticket->>'body'));
    category text;
    priority text;
BEGIN
    BEGIN
        j := answer::jsonb;
    EXCEPTION WHEN invalid_text_representation THEN
        j := NULL;
    END;
    IF jsonb_typeof(j) = 'object' THEN
        category := CASE WHEN j->>'category' IN ('billing', 'bug', 'outage', 'security', 'account', 'question')
                         THEN j->>'category' ELSE 'question' END;
        priority := CASE WHEN j->>'priority' IN ('low', 'normal', 'high', 'urgent')
                         THEN j->>'priority' ELSE 'normal' END;
        RETURN jsonb_build_object(
            'category', category, 'priority', priority,
            'needsEscalation', CASE jsonb_typeof(j->'needsEscalation')
                                   WHEN 'boolean' THEN (j->>'needsEscalation')::boolean
                                   ELSE priority = 'urgent' END,
            'summary', coalesce(j->>'summary', ''),
            'suggestedReply', j->>'suggestedReply',
            'source', 'model');
    END IF;
    category := CASE
        WHEN words ~ '\m(outage|down|unavailable|not responding)\M' THEN 'outage'
        WHEN words ~ '\m(breach|hacked|leak|security|vulnerability)\M' THEN 'security'
        WHEN words ~ '\m(invoice|billed|billing|charged|refund|payment)\M' THEN 'billing'
        WHEN words ~ '\m(password|login|log in|account|2fa)\M' THEN 'account'
        WHEN words ~ '\m(error|bug|crash|broken|fails)\M' THEN 'bug'
        ELSE 'question' END;
    priority := CASE category
        WHEN 'outage' THEN 'urgent' WHEN 'security' THEN 'urgent'
        WHEN 'bug' THEN 'high' WHEN 'question' THEN 'low' ELSE 'normal' END;
    RETURN jsonb_build_object(
        'category', category, 'priority', priority,
        'needsEscalation', priority = 'urgent',
        'summary', coalesce(answer, ''),
        'suggestedReply', NULL,
        'source', 'rules');
END $$;

-- Step "record-analysis": the analysis, on the ticket (with the LLM's
-- error when it gave no answer).
CREATE FUNCTION triage.record_analysis(args jsonb)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    a jsonb := triage.parse_analysis(args->'ticket', triage.response_text(args->'response'))
               || jsonb_strip_nulls(jsonb_build_object('llmError', args->'llmError'));
BEGIN
    UPDATE triage.tickets SET analysis = a, updated_at = now() WHERE id = args->>'ticketId';
    RETURN a;
END $$;

-- The submitter of a review callback (runs in the transaction that records
-- the wait): the callback id goes on the ticket and into the review queue.
CREATE FUNCTION triage.queue_review(callback_id text, kind text, args jsonb)
RETURNS bigint LANGUAGE sql AS $$
    UPDATE triage.tickets
       SET status = CASE kind WHEN 'agent' THEN 'AWAITING_AGENT' ELSE 'AWAITING_SPECIALIST' END,
           review_callback_id = callback_id, updated_at = now()
     WHERE id = args->>'ticketId';
    INSERT INTO triage.review_queue (callback_id, ticket_id, kind, context)
    VALUES (callback_id, args->>'ticketId', kind, args)
    RETURNING id;
$$;

-- Step "record-...-review": the decision, on the ticket and the queue row.
CREATE FUNCTION triage.record_review(args jsonb)
RETURNS jsonb LANGUAGE sql AS $$
    UPDATE triage.review_queue SET decision = args->'decision', completed_at = now()
     WHERE ticket_id = args->>'ticketId' AND kind = args->>'kind' AND completed_at IS NULL;
    UPDATE triage.tickets
       SET agent_review = CASE WHEN args->>'kind' = 'agent' THEN args->'decision' ELSE agent_review END,
           specialist_review = CASE WHEN args->>'kind' = 'specialist' THEN args->'decision' ELSE specialist_review END,
           escalated = escalated OR (args->>'escalate')::boolean,
           review_callback_id = NULL, status = 'REPLYING', updated_at = now()
     WHERE id = args->>'ticketId'
    RETURNING args->'decision';
$$;

-- Parallel branch "survey" (a step): the satisfaction survey, sent a day later.
CREATE FUNCTION triage.schedule_survey(args jsonb)
RETURNS jsonb LANGUAGE sql AS $$
    INSERT INTO triage.surveys (ticket_id, email, send_after)
    VALUES (args->>'ticketId', args->>'email', now() + interval '1 day')
    RETURNING jsonb_build_object('surveyId', id, 'sendAfter', send_after);
$$;

-- Step "resolve".
CREATE FUNCTION triage.resolve(args jsonb)
RETURNS jsonb LANGUAGE sql AS $$
    UPDATE triage.tickets
       SET status = 'RESOLVED', resolution = args, updated_at = now()
     WHERE id = args->>'ticketId'
    RETURNING resolution;
$$;

-- ------------------------------------------------------------ workflows

-- Parallel branch "reply" (a child workflow): the mail, then its record.
-- Input {ticketId, to, subject, body, mailerUrl}.
CREATE FUNCTION triage.send_reply(input jsonb)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    sent jsonb;
BEGIN
    -- durable_http sends "Idempotency-Key: <execution id>:<operation>" by
    -- default, so a retried mail is not sent twice by a mailer that honours it
    sent := durable_http('send-mail',
        jsonb_build_object('method', 'POST', 'url', input->>'mailerUrl',
                           'body', jsonb_build_object('to', input->>'to', 'subject', input->>'subject',
                                                      'text', input->>'body', 'ticketId', input->>'ticketId')),
        '{"max_attempts": 5, "fail_on_status": true}');
    RETURN durable_step('record-reply',
        'INSERT INTO triage.messages (ticket_id, recipient, subject, body, mailer_status, mailer_message)
         VALUES ($1->>''ticketId'', $1->>''to'', $1->>''subject'', $1->>''body'',
                 ($1->''sent''->>''status'')::int,
                 coalesce($1->''sent''->''body''->>''id'', $1->''sent''->''body''->>''messageId''))
         RETURNING jsonb_build_object(''messageId'', id, ''mailerStatus'', mailer_status)',
        input || jsonb_build_object('sent', sent));
END $$;

-- The triage.  Input: the ticket {ticketId, email, subject, body, ...}.
CREATE FUNCTION triage.ticket_triage(input jsonb)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    ticket_id text := input->>'ticketId';
    cfg jsonb;
    llm jsonb;
    analysis jsonb;
    review jsonb;
    specialist jsonb;
    escalate boolean;
    reply text;
    sent jsonb;
BEGIN
    cfg := durable_step('load-settings', 'SELECT triage.settings_json()');

    -- 1. the LLM's analysis (429, 5xx, timeouts retried); when the LLM
    --    cannot answer (WF015), the rules decide alone
    BEGIN
        llm := durable_http('analyze',
            jsonb_build_object(
                'method', 'POST', 'url', cfg->>'llm_url',
                'headers', jsonb_build_object(
                    'Authorization', jsonb_build_object('secret', cfg->>'llm_secret', 'prefix', 'Bearer ')),
                'body', triage.analysis_request(input, cfg->>'llm_model'),
                'timeout', '1 minute'),
            '{"max_attempts": 5, "initial_delay": "2 seconds", "fail_on_status": true}');
    EXCEPTION WHEN SQLSTATE 'WF015' THEN
        llm := jsonb_build_object('error', SQLERRM);
    END;
    analysis := durable_step('record-analysis', 'SELECT triage.record_analysis($1)',
                             jsonb_build_object('ticketId', ticket_id, 'ticket', input,
                                                'response', llm->'body', 'llmError', llm->'error'));

    -- 2. an agent reviews it in the ticketing system
    review := durable_wait_for_callback('agent-review',
        'SELECT triage.queue_review($1, ''agent'', $2)',
        jsonb_build_object('ticketId', ticket_id, 'analysis', analysis),
        timeout => interval '3 days');
    escalate := coalesce((analysis->>'needsEscalation')::boolean, false)
                OR coalesce((review->>'escalate')::boolean, false);
    PERFORM durable_step('record-agent-review', 'SELECT triage.record_review($1)',
        jsonb_build_object('ticketId', ticket_id, 'kind', 'agent', 'decision', review,
                           'escalate', escalate));

    -- 3. a specialist, only when escalation is needed
    IF escalate THEN
        specialist := durable_wait_for_callback('specialist-review',
            'SELECT triage.queue_review($1, ''specialist'', $2)',
            jsonb_build_object('ticketId', ticket_id, 'analysis', analysis, 'agentReview', review),
            timeout => interval '5 days');
        PERFORM durable_step('record-specialist-review', 'SELECT triage.record_review($1)',
            jsonb_build_object('ticketId', ticket_id, 'kind', 'specialist', 'decision', specialist,
                               'escalate', true));
    END IF;
    reply := coalesce(specialist->>'reply', review->>'reply', analysis->>'suggestedReply',
                      'Thank you for contacting us; your ticket is resolved.');

    -- 4. the reply and the survey, in parallel, each a child execution
    sent := durable_parallel('reply-and-survey', jsonb_build_array(
        jsonb_build_object('name', 'reply', 'workflow', 'triage.send_reply',
            'input', jsonb_build_object('ticketId', ticket_id, 'to', input->>'email',
                                        'subject', 'Re: ' || (input->>'subject'), 'body', reply,
                                        'mailerUrl', cfg->>'mailer_url')),
        jsonb_build_object('name', 'survey', 'sql', 'SELECT triage.schedule_survey($1)',
            'args', jsonb_build_object('ticketId', ticket_id, 'email', input->>'email'))));

    -- 5. resolved
    RETURN durable_step('resolve', 'SELECT triage.resolve($1)', jsonb_build_object(
        'ticketId', ticket_id,
        'status', 'RESOLVED',
        'category', analysis->>'category',
        'priority', analysis->>'priority',
        'escalated', escalate,
        'resolvedBy', coalesce(specialist->>'agent', review->>'agent'),
        'reply', sent->'results'->0->'result',
        'survey', sent->'results'->1->'result'));
END $$;

-- examples/ticket_triage.sql: support ticket triage, as a durable workflow.
--
--   SELECT triage.submit_ticket('{"ticketId": "TKT-1001", "email": "kim@example.com",
--     "customerTier": "pro", "subject": "Invoice charged twice",
--     "body": "We were billed twice in March."}');
--
-- For each ticket (one at a time per customer: the queue "triage") the
-- workflow
--
--   1. asks an LLM (an OpenAI-style responses API, durable_http, retried on
--      429 and 5xx) to classify it: {category, priority, sentiment,
--      needsEscalation, escalationReason, summary, suggestedReply}; a model
--      that does not answer with the requested JSON, or does not answer at
--      all, gets a rule-based analysis of its answer and the ticket.  Data
--      loss, security, legal matters, outages and enterprise customers
--      always escalate;
--   2. waits for an agent's review: a callback whose submitter puts the
--      callback id on the ticket and in the review queue, where the
--      ticketing system finds it; the agent's decision completes it:
--        SELECT durable_callback_success(review_callback_id,
--                 '{"agent": "ana", "approved": true, "reply": "Refunded.", "escalate": false}')
--          FROM triage.tickets WHERE id = 'TKT-1001';
--      "approved": false rejects the ticket: no reply is sent, the ticket
--      is REJECTED (a missing "approved" approves);
--   3. waits for a specialist's review the same way, only when the analysis
--      or the agent says the ticket needs escalation (the specialist may
--      reject it too);
--   4. sends the reply (an HTTP call to the mailer) and schedules the
--      satisfaction survey, in parallel (durable_parallel);
--   5. marks the ticket RESOLVED.
--
-- A review that times out (settings agent_review_timeout and
-- specialist_review_timeout), or that the ticketing system fails with
--   SELECT durable_callback_failure(review_callback_id, '{"message": "ticket merged"}') ...
-- puts the ticket in NEEDS_ATTENTION with the reason, for a person to pick
-- up; the execution still succeeds.  It returns
--   {"status": "resolved" | "rejected" | "needs_attention", "ticketId",
--    "category", "priority", "finalResponse" (the reply sent, or null), ...}
-- and writes a line to its history (durable_log) at each decision.
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
    ('mailer_url', 'https://mailer.example.com/v1/messages'),
    ('agent_review_timeout',      '3 days'),   -- then the ticket NEEDS_ATTENTION
    ('specialist_review_timeout', '5 days');

CREATE TABLE triage.tickets (
    id                 text PRIMARY KEY,
    email              text NOT NULL,
    customer           text,
    customer_tier      text,                -- "enterprise" always escalates
    subject            text NOT NULL,
    body               text NOT NULL,
    status             text NOT NULL DEFAULT 'NEW'
                       CHECK (status IN ('NEW', 'AWAITING_AGENT', 'AWAITING_SPECIALIST',
                                         'REPLYING', 'RESOLVED', 'REJECTED', 'NEEDS_ATTENTION')),
    -- why the ticket NEEDS_ATTENTION (a review timed out or failed)
    attention_reason   text,
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
    decision     jsonb,                     -- or {"error": ...} when it timed out or failed
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

-- The triages run in a queue of executions keyed by customer (by email
-- when the ticket names none): one ticket of a customer at a time, from
-- its analysis to its resolution, so that agents never review two tickets
-- of one customer at once; tickets of different customers run side by
-- side.  A queue belongs to the role that made it: the role that installs
-- this script is the one that submits tickets.
SELECT durable_queue_set('triage', '{"max_concurrency_per_key": 1}');

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
    IF ticket ? 'customerTier' AND jsonb_typeof(ticket->'customerTier') <> 'string' THEN
        RAISE EXCEPTION 'ticket: "customerTier" must be a string'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    execution := durable_start('triage.ticket_triage', ticket, name => 'ticket-' || (ticket->>'ticketId'),
                               options => jsonb_build_object('execution_timeout', '14 days',
                                   'queue', 'triage',
                                   'key', coalesce(ticket->>'customer', ticket->>'email')));
    INSERT INTO triage.tickets (id, email, customer, customer_tier, subject, body, execution_id)
    VALUES (ticket->>'ticketId', ticket->>'email', ticket->>'customer', lower(ticket->>'customerTier'),
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
                        '"priority": "low|normal|high|urgent", "sentiment": "positive|neutral|negative", '
                        '"needsEscalation": true|false, "escalationReason": "..." or null, '
                        '"summary": "...", "suggestedReply": "..."}. '
                        'Escalate data loss, security, legal matters and outages.',
        'input', format(E'%s\n\n%s\n\nCustomer tier: %s', ticket->>'subject', ticket->>'body',
                        coalesce(ticket->>'customerTier', 'unknown')),
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

-- The model's answer as an analysis {category, priority, sentiment,
-- needsEscalation, escalationReason, summary, suggestedReply, source}: its
-- JSON when it gave the JSON asked for, otherwise rules on the words of its
-- answer and of the ticket.  Either way an enterprise customer escalates.
CREATE FUNCTION triage.parse_analysis(ticket jsonb, answer text)
RETURNS jsonb LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    j jsonb;
    words text := lower(concat_ws(' ', answer, ticket->>'subject', ticket->>'body'));
    a jsonb;
    category text;
    priority text;
    reason text;
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
        a := jsonb_build_object(
            'category', category, 'priority', priority,
            'sentiment', CASE WHEN j->>'sentiment' IN ('positive', 'neutral', 'negative')
                              THEN j->>'sentiment' ELSE 'neutral' END,
            'needsEscalation', CASE jsonb_typeof(j->'needsEscalation')
                                   WHEN 'boolean' THEN (j->>'needsEscalation')::boolean
                                   ELSE priority = 'urgent' END,
            'escalationReason', CASE WHEN jsonb_typeof(j->'escalationReason') = 'string'
                                     THEN j->>'escalationReason' END,
            'summary', coalesce(j->>'summary', ''),
            'suggestedReply', j->>'suggestedReply',
            'source', 'model');
    ELSE
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
        reason := CASE
            WHEN category IN ('outage', 'security') THEN category
            WHEN words ~ '\m(data loss|lost (all|our|my) data|data (was|is) gone|deleted)\M' THEN 'data loss'
            WHEN words ~ '\m(lawyer|legal|lawsuit|court|gdpr)\M' THEN 'legal' END;
        IF reason IS NOT NULL AND priority IN ('low', 'normal') THEN
            priority := 'high';
        END IF;
        a := jsonb_build_object(
            'category', category, 'priority', priority,
            'sentiment', CASE
                WHEN words ~ '\m(angry|unacceptable|terrible|furious|frustrated|worst)\M' THEN 'negative'
                WHEN words ~ '\m(thanks|thank you|great|love)\M' THEN 'positive'
                ELSE 'neutral' END,
            'needsEscalation', reason IS NOT NULL,
            'escalationReason', reason,
            'summary', coalesce(answer, ''),
            'suggestedReply', NULL,
            'source', 'rules');
    END IF;
    IF lower(ticket->>'customerTier') = 'enterprise' AND NOT (a->>'needsEscalation')::boolean THEN
        a := a || '{"needsEscalation": true, "escalationReason": "enterprise customer"}';
    END IF;
    RETURN a;
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

-- Step "record-...-review": the decision, on the ticket and the queue row
-- (the ticket is REPLYING until the next review is queued or it ends).
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

-- Steps "resolve", "reject" and "needs-attention": how the ticket ends.
-- args is the workflow's result {status: resolved | rejected |
-- needs_attention, ticketId, ..., reason}: the ticket's status, kept as its
-- resolution; a review still open (one that timed out or failed) is closed
-- with the reason.
CREATE FUNCTION triage.finish(args jsonb)
RETURNS jsonb LANGUAGE sql AS $$
    UPDATE triage.review_queue
       SET decision = jsonb_build_object('error', args->>'reason'), completed_at = now()
     WHERE ticket_id = args->>'ticketId' AND completed_at IS NULL;
    UPDATE triage.tickets
       SET status = upper(args->>'status'), resolution = args, review_callback_id = NULL,
           attention_reason = CASE WHEN args->>'status' = 'needs_attention' THEN args->>'reason' END,
           updated_at = now()
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

-- A review that timed out (WF003) or was failed by the ticketing system
-- (WF002): the ticket needs a person, who finds it in NEEDS_ATTENTION with
-- the reason (the error's message: 'callback "agent-review" timed out',
-- 'callback "agent-review" failed: <the message given>').  Called by the
-- workflow's exception handlers.
CREATE FUNCTION triage.needs_attention(ticket_id text, kind text, analysis jsonb, reason text)
RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
    PERFORM durable_log('warning', 'the ticket needs attention',
                        jsonb_build_object('review', kind, 'reason', reason));
    RETURN durable_step('needs-attention', 'SELECT triage.finish($1)', jsonb_build_object(
        'status', 'needs_attention',
        'ticketId', ticket_id,
        'category', analysis->>'category',
        'priority', analysis->>'priority',
        'finalResponse', NULL,
        'review', kind,
        'reason', reason));
END $$;

-- A reviewer did not approve: REJECTED, no reply, no survey.
CREATE FUNCTION triage.reject(ticket_id text, analysis jsonb, decision jsonb)
RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
    PERFORM durable_log('info', 'the ticket was rejected',
                        jsonb_build_object('by', decision->>'agent', 'reason', decision->>'reason'));
    RETURN durable_step('reject', 'SELECT triage.finish($1)', jsonb_build_object(
        'status', 'rejected',
        'ticketId', ticket_id,
        'category', analysis->>'category',
        'priority', analysis->>'priority',
        'finalResponse', NULL,
        'rejectedBy', decision->>'agent',
        'reason', decision->>'reason'));
END $$;

-- The triage.  Input: the ticket {ticketId, email, subject, body, customerTier, ...}.
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
        PERFORM durable_log('warning', 'the LLM gave no analysis; the rules decide',
                            jsonb_build_object('error', SQLERRM));
    END;
    analysis := durable_step('record-analysis', 'SELECT triage.record_analysis($1)',
                             jsonb_build_object('ticketId', ticket_id, 'ticket', input,
                                                'response', llm->'body', 'llmError', llm->'error'));

    -- 2. an agent reviews it in the ticketing system
    BEGIN
        review := durable_wait_for_callback('agent-review',
            'SELECT triage.queue_review($1, ''agent'', $2)',
            jsonb_build_object('ticketId', ticket_id, 'analysis', analysis),
            timeout => coalesce((cfg->>'agent_review_timeout')::interval, interval '3 days'));
    EXCEPTION WHEN SQLSTATE 'WF002' OR SQLSTATE 'WF003' THEN
        RETURN triage.needs_attention(ticket_id, 'agent', analysis, SQLERRM);
    END;
    escalate := coalesce((analysis->>'needsEscalation')::boolean, false)
                OR coalesce((review->>'escalate')::boolean, false);
    PERFORM durable_step('record-agent-review', 'SELECT triage.record_review($1)',
        jsonb_build_object('ticketId', ticket_id, 'kind', 'agent', 'decision', review,
                           'escalate', escalate));
    IF review->'approved' = 'false' THEN
        RETURN triage.reject(ticket_id, analysis, review);
    END IF;

    -- 3. a specialist, only when escalation is needed
    IF escalate THEN
        PERFORM durable_log('info', 'escalated to a specialist', jsonb_build_object(
            'reason', coalesce(analysis->>'escalationReason', review->>'reason', 'the agent asked')));
        BEGIN
            specialist := durable_wait_for_callback('specialist-review',
                'SELECT triage.queue_review($1, ''specialist'', $2)',
                jsonb_build_object('ticketId', ticket_id, 'analysis', analysis, 'agentReview', review),
                timeout => coalesce((cfg->>'specialist_review_timeout')::interval, interval '5 days'));
        EXCEPTION WHEN SQLSTATE 'WF002' OR SQLSTATE 'WF003' THEN
            RETURN triage.needs_attention(ticket_id, 'specialist', analysis, SQLERRM);
        END;
        PERFORM durable_step('record-specialist-review', 'SELECT triage.record_review($1)',
            jsonb_build_object('ticketId', ticket_id, 'kind', 'specialist', 'decision', specialist,
                               'escalate', true));
        IF specialist->'approved' = 'false' THEN
            RETURN triage.reject(ticket_id, analysis, specialist);
        END IF;
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
    PERFORM durable_log('info', 'the ticket is resolved',
                        jsonb_build_object('by', coalesce(specialist->>'agent', review->>'agent')));
    RETURN durable_step('resolve', 'SELECT triage.finish($1)', jsonb_build_object(
        'status', 'resolved',
        'ticketId', ticket_id,
        'category', analysis->>'category',
        'priority', analysis->>'priority',
        'finalResponse', reply,
        'escalated', escalate,
        'resolvedBy', coalesce(specialist->>'agent', review->>'agent'),
        'reply', sent->'results'->0->'result',
        'survey', sent->'results'->1->'result'));
END $$;

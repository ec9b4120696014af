-- demo/resolved.sql - part 2 of the demo, after the agent's answer
-- completed the callback (demo/run.sh, as a separate client).

\echo '### 6. The execution resumed at that commit: the reply (an HTTP call to the'
\echo '    mailer) and the satisfaction survey ran in parallel, as two child'
\echo '    executions, and the ticket is resolved.'
SELECT durable_await('ticket-TKT-1001', '30 seconds') AS status;
SELECT name, status, finished_at - created_at AS took, jsonb_pretty(result) AS resolution
  FROM durable_status('ticket-TKT-1001');
SELECT c.name AS branch, e.workflow, e.status, e.result
  FROM durable.children c JOIN durable.executions e ON e.id = c.child_id
 WHERE c.parent_id = durable.execution_id('ticket-TKT-1001') ORDER BY c.idx;

\echo
\echo '### 7. Its history: every operation, the 429 retry, the callback, the parallel step,'
\echo '    and the line the workflow logged (durable_log) when the ticket was resolved.'
SELECT event_id, event, name, kind, left(details::text, 70) AS details
  FROM durable_history('ticket-TKT-1001');

\echo
\echo '### 8. The application tables: the ticket, the mail sent, the survey to send.'
SELECT id, status, escalated, agent_review->>'agent' AS agent, review_callback_id FROM triage.tickets;
SELECT ticket_id, recipient, subject, body, mailer_status FROM triage.messages;
SELECT ticket_id, email, send_after - now() > interval '23 hours' AS in_a_day FROM triage.surveys;

# The three example workflows of examples/ run end to end by the background
# workers against the mock HTTP server (test/mock/mock_http.py):
#
# - usage report: a request is normalised (the same report asked twice, or
#   asked with its lists reordered, gives one execution and one report
#   row; bad requests get clear errors), the metrics are aggregated from
#   usage_events, three styles are written (two through durable_http with
#   a 429 retried, honouring Retry-After; "executive" through durable_task,
#   served by examples/llm_worker.py, a worker of the task queue "llm",
#   whose 429 fails the attempt and whose task comes back for a second
#   attempt under the same Idempotency-Key), and
#   the report is DONE with pointers to its three narratives, which asking
#   again returns; the LLM key is a secret that reaches the mock and no
#   durable table; the metricsKey covers the metrics spec alone, so a
#   report on the same figures with other styles (each with its own
#   prompt) reuses the stored metrics instead of aggregating again;
# - ticket triage: tickets completed the way a ticketing system would
#   (durable_callback_success or _failure on the callback id found on the
#   ticket): one without escalation, one escalated by the agent and one by
#   the analysis, each with its reply mailed and its survey scheduled; a
#   model that answers the JSON asked for (its analysis and suggested
#   reply used; an enterprise customer escalated); an agent who does not
#   approve (rejected, nothing mailed); a review failed by the ticketing
#   system and one that times out (the ticket NEEDS_ATTENTION with the
#   reason, the execution SUCCEEDED); the decisions logged in the history;
# - payment: a success whose five-minute settle wait is skipped by moving
#   the workers' durable clock (durable.clock_offset), with a 503 of the
#   provider retried under the same explicit Idempotency-Key; declined
#   authorizations (HTTP 402 and 404) recorded DECLINED with no void sent;
#   a provider that never answers, and a capture that fails, compensated
#   by a void that the provider answers with 404 (nothing to void).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use JSON::PP;
use File::Basename qw(dirname);
use Cwd qw(abs_path);
use DurableMock;

my $root = abs_path(dirname(__FILE__) . '/../..');
my $json = JSON::PP->new->canonical;

my $mock = DurableMock->new;
my $url  = $mock->url;

my $node = PostgreSQL::Test::Cluster->new('examples');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'durable'
durable.max_workers = 4
durable.database = 'postgres'
durable.http_allow_addresses = '127.0.0.1'
});
$node->start;

$node->safe_psql('postgres', 'CREATE EXTENSION durable');
$node->safe_psql('postgres', slurp_file("$root/examples/$_.sql"))
  for qw(usage_report ticket_triage payment);
$node->safe_psql('postgres', qq{
SELECT durable_secret_set('llm_api_key', 'sk-test-llm-4242', ARRAY['127.0.0.1']);
SELECT durable_secret_set('payments_api_key', 'sk-test-pay-7373', ARRAY['127.0.0.1']);
UPDATE usage_report.settings SET value = '$url/v1/responses?fail=429x1' WHERE key = 'llm_url';
UPDATE triage.settings SET value = '$url/v1/responses?fail=429x1' WHERE key = 'llm_url';
UPDATE triage.settings SET value = '$url/echo' WHERE key = 'mailer_url';
});

ok($node->poll_query_until('postgres',
	"SELECT count(*) = 4 FROM pg_stat_activity WHERE backend_type = 'durable worker'"),
	'four durable workers are running');

sub query { return $node->safe_psql('postgres', $_[0]); }

# the status of an execution once it has finished (60 s at most)
sub await_status
{
	my ($execution) = @_;
	return query("SELECT durable_await('$execution', '60 seconds')");
}

# psql's error of a failed statement: "<sqlstate> <message>"
sub sql_error
{
	my ($sql) = @_;
	my ($rc, $out, $err) = $node->psql('postgres', "\\set VERBOSITY verbose\n$sql");
	return 'no error' if $rc == 0;
	return $err =~ /ERROR:\s+(\w{5}):\s+(.*)/ ? "$1 $2" : $err;
}

# the recorded requests under a path prefix, grouped by Idempotency-Key:
# { key => number of requests }
sub keys_of
{
	my ($prefix) = @_;
	my %n;
	$n{ $_->{headers}{'idempotency-key'} // '(none)' }++ for @{ $mock->requests($prefix) };
	return \%n;
}

# ------------------------------------------------------------ usage report

# a week of traffic for tenant acme (855 requests, a spike on March 5) and
# some for another tenant, which the report must not count
query(q{
INSERT INTO usage_report.usage_events (tenant_id, at, endpoint, method, region, status, latency_ms, bytes_out)
SELECT t, day + i * interval '1 minute',
       CASE WHEN i % 10 < 5 THEN '/v1/orders' WHEN i % 10 < 8 THEN '/v1/users' ELSE '/v1/search' END,
       CASE WHEN i % 4 = 0 THEN 'POST' ELSE 'GET' END,
       CASE WHEN i % 3 = 0 THEN 'us-east' ELSE 'eu-west' END,
       CASE WHEN i % 25 = 0 THEN 503 WHEN i % 10 = 3 THEN 404 ELSE 200 END,
       20 + i % 50, 1000
  FROM (VALUES ('acme', timestamptz '2025-03-01 00:00Z', 100), ('acme', '2025-03-02 00:00Z', 100),
               ('acme', '2025-03-03 00:00Z', 110), ('acme', '2025-03-04 00:00Z', 105),
               ('acme', '2025-03-05 00:00Z', 300), ('acme', '2025-03-06 00:00Z', 100),
               ('acme', '2025-03-07 00:00Z', 40), ('globex', '2025-03-03 00:00Z', 500)) v(t, day, n),
       generate_series(1, n) i;
});

my $request = q[{"tenantId": "acme", "period": {"from": "2025-03-01", "to": "2025-03-07"},
  "prompt": "Focus on reliability.", "dimensions": ["region", "endpoint"],
  "metrics": ["requests", "errors"], "styles": ["technical", "executive", "customer"]}];
# the same request, written differently
my $request2 = q[{"styles": ["customer", "Executive", "technical", "customer"],
  "metrics": ["errors", "requests", "errors"], "dimensions": ["endpoint", " region"],
  "prompt": " Focus on reliability. ", "period": {"to": "2025-03-07", "from": "2025-03-01"},
  "tenantId": "acme"}];

my $first = $json->decode(query("SELECT usage_report.request_report('$request')"));
like($first->{metricsKey}, qr/^[0-9a-f]{64}$/, 'the metrics key is a SHA-256 in hex');
is($first->{metricsKey},
	query(q{SELECT encode(sha256(convert_to(jsonb_build_object(
	  'tenantId', 'acme', 'period', jsonb_build_object('from', '2025-03-01', 'to', '2025-03-07'),
	  'dimensions', jsonb_build_array('endpoint', 'region'),
	  'metrics', jsonb_build_array('errors', 'requests'))::text, 'UTF8')), 'hex')}),
	'the metrics key is the SHA-256 of the canonical metrics spec alone: lists sorted and deduplicated');
like($first->{reportKey}, qr/^[0-9a-f]{64}$/, 'the report key is a SHA-256 too');
isnt($first->{reportKey}, $first->{metricsKey}, 'of the whole request: prompt and styles included');
my $second = $json->decode(query("SELECT usage_report.request_report('$request2')"));
is($second->{executionId}, $first->{executionId},
	'the same request, reordered and repeated, gives the same execution');
is(query('SELECT count(*) FROM usage_report.reports'), '1', 'and one report row');

like(sql_error(q[SELECT usage_report.request_report('{"tenantId": "acme", "period": "2025-03",
  "dimensions": ["endpoint", "colour"], "metrics": ["requests"], "styles": ["brief"]}')]),
	qr/^22023 report request: unknown dimensions "colour"/, 'an unknown dimension is refused');
like(sql_error(q[SELECT usage_report.request_report('{"tenantId": "acme", "period": "March",
  "dimensions": ["endpoint"], "metrics": ["requests"], "styles": ["brief"]}')]),
	qr/^22023 report request: "period" must be/, 'a bad period is refused');
like(sql_error(q[SELECT usage_report.request_report('{"tenantId": "acme", "period": "2025-03",
  "dimensions": ["endpoint"], "metrics": [], "styles": ["brief"]}')]),
	qr/^22023 report request: "metrics" must be a non-empty array/, 'no metrics is refused');
like(sql_error(q[SELECT usage_report.request_report('{"tenantId": "acme", "period": "2025-03",
  "dimensions": ["endpoint"], "metrics": ["requests"], "styles": ["brief", {"id": "risks"}]}')]),
	qr/^22023 report request: style "risks" needs a prompt/, 'a style of its own needs a prompt');
like(sql_error(q[SELECT usage_report.request_report('{"tenantId": "acme", "period": "2025-03",
  "dimensions": ["endpoint"], "metrics": ["requests"],
  "styles": [{"id": "brief", "prompt": "Two words."}, "brief"]}')]),
	qr/^22023 report request: style "brief" is given twice with different prompts/,
	'one style with two prompts is refused');
like(sql_error(q[SELECT usage_report.request_report('{"tenantId": "acme", "period": "2025-03",
  "dimensions": ["endpoint"], "metrics": ["requests"], "styles": [{"id": "brief", "prompt": 7}]}')]),
	qr/^22023 report request: a style must be a style id or \{"id": \.\.\., "prompt": \.\.\.\}/,
	'a prompt that is not a string is refused');
is(query('SELECT count(*) FROM usage_report.reports'), '1', 'bad requests leave no report row');

# the executive style waits in the task queue of the external worker
ok($node->poll_query_until('postgres',
	"SELECT string_agg(name || ':' || task_queue || ':' || (payload->>'style') || ':' || status, ',') FROM durable.tasks",
	'llm-task:llm:executive:QUEUED'), 'the executive narrative is a task of the queue llm');
ok($node->poll_query_until('postgres', qq{
SELECT s.status || ' ' || s.current_operation || ' ' ||
       (SELECT string_agg(c.status, ',' ORDER BY c.idx) FROM durable.children c
         WHERE c.parent_id = s.id)
  FROM durable_status('$first->{executionId}') s},
	'SUSPENDED narratives SUCCEEDED,RUNNING,SUCCEEDED'),
	'the report waits for its executive narrative, the other two are written');
is(query(q{SELECT r.status || ' ' || (m.metrics->'totalRequests') || ' ' || (m.computed_for = r.report_key)
             FROM usage_report.reports r JOIN usage_report.metrics m USING (metrics_key)}), 'RUNNING 855 true',
	'its metrics are stored already');

# run the worker until it has completed one task: its first call gets a 429
my ($out, $err) = ('', '');
my $python = -x '/usr/bin/python3' ? '/usr/bin/python3' : 'python3';
my $worker_ok = IPC::Run::run(
	[ 'env', 'LLM_API_KEY=sk-worker-key',
	  $python, "$root/examples/llm_worker.py", '-d', $node->connstr('postgres'), '-n', '1', '-i', '60' ],
	'>', \$out, '2>', \$err, IPC::Run::timeout(120));
ok($worker_ok, 'examples/llm_worker.py completed the task') or diag($err);
like($err, qr/task executive attempt 1: HTTP 429, retried after the backoff\n(?:.*\n)*.*task executive attempt 2: done \(HTTP 200\)/,
	'its first attempt got a 429 and was failed as retryable; the task came back and its second attempt completed it');
is(query(q{SELECT concat_ws(' ', status, attempt, error->>'message') FROM durable.tasks}),
	'SUCCEEDED 2 HTTP 429 from the LLM', 'the task succeeded at attempt 2, the 429 kept as the last error');

is(await_status($first->{executionId}), 'SUCCEEDED', 'the report execution succeeded');
is(query(q{SELECT status || ' ' || jsonb_array_length(artifacts->'narratives') || ' '
                   || (artifacts->'metrics' = jsonb_build_object('table', 'usage_report.metrics',
                                                                'metricsKey', metrics_key))
             FROM usage_report.reports}),
	'DONE 3 true', 'the report is DONE and points at its metrics and three narratives');
is(query(q{SELECT string_agg(concat_ws(':', a->>'style', a->>'source', n.style = a->>'style'),
                             ',' ORDER BY a->>'style')
             FROM usage_report.reports r, jsonb_array_elements(r.artifacts->'narratives') a
             JOIN usage_report.narratives n ON n.id = (a->>'narrativeId')::bigint}),
	'customer:http:t,executive:task:t,technical:http:t',
	'each pointer names its narrative row, one per style, executive by the task queue');
is(query(q{SELECT string_agg(style || '=' || (body LIKE 'summary(' || style || '): Write the ' || style || ' narrative%'), ','
             ORDER BY style) FROM usage_report.narratives}),
	'customer=true,executive=true,technical=true', "each narrative is the LLM's answer for its style");
is(query(q{SELECT concat_ws(' ', metrics->'totalRequests', metrics->'totals'->'requests',
                            metrics->'topEndpoints'->0->>'endpoint', metrics->'topEndpoints'->0->'requests',
                            metrics->'byDimension'->'region'->0->>'value',
                            (SELECT string_agg(a->>'day' || ':' || (a->>'changePct'), ',')
                               FROM jsonb_array_elements(metrics->'anomalies') a))
             FROM usage_report.metrics}),
	'855 855 /v1/orders 429 eu-west 2025-03-05:185.7,2025-03-06:-66.7,2025-03-07:-60.0',
	'the metrics: total requests of the tenant, top endpoint, breakdown, day-over-day anomalies');

# the mock fails the first request of every Idempotency-Key with 429
my $llm = $mock->requests('/v1/responses');
my %per_key;
$per_key{ $_->{headers}{'idempotency-key'} }++ for @$llm;
is(scalar(@$llm), 6, 'six LLM requests: two per style');
is(join(',', sort values %per_key), '2,2,2', 'each style sent its request twice under one key');
is(scalar(grep { /^llm-task-[0-9a-f]{64}$/ && $per_key{$_} == 2 } keys %per_key), 1,
	"the worker's task was one of them, both attempts under one key");
is(join(',', sort map { $_->{headers}{authorization} } @$llm),
	'Bearer sk-test-llm-4242,Bearer sk-test-llm-4242,Bearer sk-test-llm-4242,Bearer sk-test-llm-4242,'
	  . 'Bearer sk-worker-key,Bearer sk-worker-key',
	'durable_http sent the secret as the bearer token');
is(query(q{SELECT count(*) FROM durable.history h JOIN durable.executions e ON e.id = h.execution_id
            WHERE e.workflow = 'usage_report.write_narrative' AND h.event = 'operation_retried'
              AND h.name = 'llm'}),
	'2', 'the history of both HTTP styles shows the retry');
is(query(q{SELECT count(*) FROM durable.operations WHERE result::text LIKE '%sk-test-llm-4242%'
            OR error::text LIKE '%sk-test-llm-4242%'})
	  + query(q{SELECT count(*) FROM durable.history WHERE details::text LIKE '%sk-test-llm-4242%'}),
	0, 'the secret is in no checkpoint and no history event');

my $again = $json->decode(query("SELECT usage_report.request_report('$request')"));
is("$again->{executionId} $again->{status}", "$first->{executionId} DONE",
	'asking again once it is done returns the same execution and report');
is(join(',', $again->{artifacts}{metrics}{metricsKey} eq $first->{metricsKey} ? 'metrics' : 'no metrics',
		map { "$_->{style}:$_->{source}:" . ($_->{narrativeId} =~ /^\d+$/ ? 'id' : 'no id') }
		  @{ $again->{artifacts}{narratives} // [] }),
	'metrics,customer:http:id,executive:task:id,technical:http:id',
	'with the artifact pointers: the metrics and a narrative per style');

# The same figures with other styles, each with a prompt of its own: a
# second report, which reuses the stored metrics.  More traffic arrived in
# the meantime; the stored metrics, computed once, do not count it.
query(q{
INSERT INTO usage_report.usage_events (tenant_id, at, endpoint, method, region, status, latency_ms)
SELECT 'acme', timestamptz '2025-03-02 12:00Z' + i * interval '1 second', '/v1/orders', 'GET', 'eu-west', 200, 20
  FROM generate_series(1, 45) i;
});
my $request3 = q[{"tenantId": "acme", "period": {"from": "2025-03-01", "to": "2025-03-07"},
  "dimensions": ["region", "endpoint"], "metrics": ["requests", "errors"],
  "styles": [{"id": "brief", "prompt": "One sentence on the error trend."},
             {"id": "Risks", "prompt": "List the three biggest risks, one line each."}]}];
my $third = $json->decode(query("SELECT usage_report.request_report('$request3')"));
is($third->{metricsKey}, $first->{metricsKey}, 'other styles and prompts: the same metrics key');
isnt($third->{executionId}, $first->{executionId}, 'but another report and execution');
is(await_status($third->{executionId}), 'SUCCEEDED', 'which succeeds');
is(query(q{SELECT count(*) || ' ' || string_agg((metrics->'totalRequests')::text, ',') FROM usage_report.metrics}),
	'1 855', 'the metrics were computed once, for both reports');
is(query(qq{SELECT concat_ws(' ', result->'totalRequests', result->'artifacts'->'metrics'->>'metricsKey' = '$first->{metricsKey}',
                              (SELECT string_agg(a->>'style', ',') FROM jsonb_array_elements(result->'artifacts'->'narratives') a))
             FROM durable_status('$third->{executionId}')}),
	'855 t brief,risks', 'the second report points at the stored metrics and its two narratives');
my %prompt_of;
for my $r (@{ $mock->requests('/v1/responses') })
{
	my $b = $json->decode($r->{body});
	$prompt_of{ $b->{metadata}{style} } = $b->{input} if $b->{input} =~ /One sentence on the error|three biggest risks/;
}
is(join(',', map { "$_:" . ($prompt_of{$_} =~ /^Write the \Q$_\E narrative .*\. (One sentence on the error trend\.|List the three biggest risks, one line each\.)\n/ ? 'own prompt' : 'other') }
		sort keys %prompt_of),
	'brief:own prompt,risks:own prompt', 'each style was asked with its own prompt');

# ------------------------------------------------------------ ticket triage

$mock->reset;
query(q{
SELECT triage.submit_ticket('{"ticketId": "TKT-1", "email": "kim@example.com",
  "subject": "Invoice charged twice", "body": "We were billed twice in March."}');
SELECT triage.submit_ticket('{"ticketId": "TKT-2", "email": "lee@example.com",
  "subject": "Wrong VAT on invoice", "body": "Our VAT number is missing on the invoice."}');
SELECT triage.submit_ticket('{"ticketId": "TKT-3", "email": "max@example.com",
  "subject": "API down", "body": "Production outage since 9:00, every call fails."}');
});

ok($node->poll_query_until('postgres', q{
SELECT count(*) FILTER (WHERE status = 'AWAITING_AGENT' AND review_callback_id LIKE 'cb_%') = 3
  FROM triage.tickets}), 'the three tickets wait for an agent, their callback ids on them');
is(query(q{SELECT string_agg(ticket_id || ':' || kind || ':' || (callback_id = t.review_callback_id), ','
                             ORDER BY ticket_id) FROM triage.review_queue q JOIN triage.tickets t ON t.id = q.ticket_id}),
	'TKT-1:agent:true,TKT-2:agent:true,TKT-3:agent:true', 'and in the review queue');
is(query(q{SELECT string_agg(concat_ws(':', id, analysis->>'source', analysis->>'category', analysis->>'priority',
                                       analysis->>'sentiment', analysis->>'needsEscalation',
                                       coalesce(analysis->>'escalationReason', '-')), ',' ORDER BY id)
             FROM triage.tickets}),
	'TKT-1:rules:billing:normal:neutral:false:-,TKT-2:rules:billing:normal:neutral:false:-,'
	  . 'TKT-3:rules:outage:urgent:neutral:true:outage',
	'the analyses of the rules (the mock LLM does not answer JSON), with sentiment and escalation reason');
my $triage_keys = keys_of('/v1/responses');
is(join(',', sort values %$triage_keys), '2,2,2', 'each analysis got a 429 first and was retried');

# an LLM that fails for good: the rules decide alone
query(qq{
UPDATE triage.settings SET value = '$url/status/400' WHERE key = 'llm_url';
SELECT triage.submit_ticket('{"ticketId": "TKT-4", "email": "ida\@example.com",
  "subject": "Cannot log in", "body": "My password reset mail never arrives."}');
});
ok($node->poll_query_until('postgres', q{SELECT status FROM triage.tickets WHERE id = 'TKT-4'},
	'AWAITING_AGENT'), 'a ticket whose LLM call fails with 400 waits for an agent too');
is(query(q{SELECT concat_ws(' ', analysis->>'source', analysis->>'category', analysis->>'llmError')
             FROM triage.tickets WHERE id = 'TKT-4'}),
	'rules account http request "analyze" failed: status 400',
	'with the analysis of the rules, and the error of the LLM call');
is(scalar(@{ $mock->requests('/status/400') }), 1, 'the 400 was not retried');

# the agents answer in the ticketing system
query(q{
SELECT durable_callback_success(review_callback_id, '{"agent": "ana", "reply": "We refunded the second charge."}')
  FROM triage.tickets WHERE id = 'TKT-1';
SELECT durable_callback_success(review_callback_id, '{"agent": "ana", "reply": "Passing this on.", "escalate": true}')
  FROM triage.tickets WHERE id = 'TKT-2';
SELECT durable_callback_success(review_callback_id, '{"agent": "bo", "reply": "We are on it."}')
  FROM triage.tickets WHERE id = 'TKT-3';
SELECT durable_callback_success(review_callback_id, '{"agent": "bo", "reply": "Fixed the mail address."}')
  FROM triage.tickets WHERE id = 'TKT-4';
});
is(await_status('ticket-TKT-4'), 'SUCCEEDED', 'the ticket analysed by the rules is resolved');

is(await_status('ticket-TKT-1'), 'SUCCEEDED', 'the ticket without escalation is resolved');
is(query(q{SELECT result - 'survey' - 'reply' FROM durable_status('ticket-TKT-1')}),
	'{"status": "resolved", "category": "billing", "priority": "normal", "ticketId": "TKT-1", '
	  . '"escalated": false, "resolvedBy": "ana", "finalResponse": "We refunded the second charge."}',
	'its result: {status, ticketId, category, priority, finalResponse} and who resolved it');
is(query(q{SELECT (s.result->'reply'->>'mailerStatus') || ' ' || m.recipient || ' ' || (v.id = (s.result->'survey'->>'surveyId')::bigint)
             FROM durable_status('ticket-TKT-1') s
             JOIN triage.messages m ON m.id = (s.result->'reply'->>'messageId')::bigint
             JOIN triage.surveys v ON v.ticket_id = 'TKT-1'}),
	'200 kim@example.com true', 'which points at its mail and its survey');
ok($node->poll_query_until('postgres', q{
SELECT string_agg(id || ':' || status, ',' ORDER BY id) FROM triage.tickets WHERE id IN ('TKT-2', 'TKT-3')},
	'TKT-2:AWAITING_SPECIALIST,TKT-3:AWAITING_SPECIALIST'),
	'the tickets escalated by the agent and by the analysis wait for a specialist');
query(q{
SELECT durable_callback_success(review_callback_id, '{"agent": "sam", "reply": "Corrected invoice attached."}')
  FROM triage.tickets WHERE id = 'TKT-2';
SELECT durable_callback_success(review_callback_id, '{"agent": "sam", "reply": "A bad deploy was rolled back."}')
  FROM triage.tickets WHERE id = 'TKT-3';
});
is(await_status('ticket-TKT-2'), 'SUCCEEDED', 'the ticket escalated by the agent is resolved');
is(await_status('ticket-TKT-3'), 'SUCCEEDED', 'the ticket escalated by the analysis is resolved');
is(query(q{SELECT string_agg(concat_ws(':', id, status, escalated, resolution->>'resolvedBy',
                                       resolution->'reply'->>'mailerStatus',
                                       resolution->'survey'->>'surveyId' IS NOT NULL), ',' ORDER BY id)
             FROM triage.tickets}),
	'TKT-1:RESOLVED:f:ana:200:t,TKT-2:RESOLVED:t:sam:200:t,TKT-3:RESOLVED:t:sam:200:t,TKT-4:RESOLVED:f:bo:200:t',
	'every ticket is resolved, mailed and surveyed; the escalated ones by the specialist');
is(query(q{SELECT string_agg(ticket_id || ':' || kind, ',' ORDER BY ticket_id, kind)
             FROM triage.review_queue WHERE completed_at IS NOT NULL}),
	'TKT-1:agent,TKT-2:agent,TKT-2:specialist,TKT-3:agent,TKT-3:specialist,TKT-4:agent',
	'a specialist review only where escalation was needed, every review recorded');
is(query(q{SELECT string_agg(ticket_id || ':' || email, ',' ORDER BY ticket_id) FROM triage.surveys}),
	'TKT-1:kim@example.com,TKT-2:lee@example.com,TKT-3:max@example.com,TKT-4:ida@example.com',
	'one survey per ticket');
my %mails = map { $_->{json}{ticketId} => $_ } map { { %$_, json => $json->decode($_->{body}) } }
  @{ $mock->requests('/echo') };
is(join(',', map { "$_:$mails{$_}{json}{to}:$mails{$_}{json}{subject}:$mails{$_}{json}{text}" } sort keys %mails),
	'TKT-1:kim@example.com:Re: Invoice charged twice:We refunded the second charge.,'
	  . 'TKT-2:lee@example.com:Re: Wrong VAT on invoice:Corrected invoice attached.,'
	  . 'TKT-3:max@example.com:Re: API down:A bad deploy was rolled back.,'
	  . 'TKT-4:ida@example.com:Re: Cannot log in:Fixed the mail address.',
	"the mailer got one reply per ticket, the specialist's where there was one");
is(query(q{SELECT string_agg(h.details->>'message', ', ' ORDER BY h.event_id)
             FROM durable_history('ticket-TKT-3') h WHERE h.event = 'log'}),
	'escalated to a specialist, the ticket is resolved', 'the history of a ticket has a line per decision');

# A model that answers with the JSON it was asked for (the mock answers the
# text given in the URL).  An enterprise customer escalates even when the
# model says it need not.
sub uri_escape
{
	my ($text) = @_;
	$text =~ s/([^A-Za-z0-9\-._~])/sprintf('%%%02X', ord($1))/ge;
	return $text;
}
my $model_answer = '{"category": "account", "priority": "high", "sentiment": "negative", '
  . '"needsEscalation": false, "escalationReason": null, "summary": "Locked out after a 2FA reset.", '
  . '"suggestedReply": "We reset your two-factor login; please sign in again."}';
$mock->reset;
query(qq{
UPDATE triage.settings SET value = '$url/v1/responses/answer?text=@{[ uri_escape($model_answer) ]}' WHERE key = 'llm_url';
SELECT triage.submit_ticket('{"ticketId": "TKT-5", "email": "eva\@example.com", "customerTier": "pro",
  "subject": "Locked out", "body": "The 2FA reset locked me out, I am angry."}');
SELECT triage.submit_ticket('{"ticketId": "TKT-6", "email": "oz\@example.com", "customerTier": "enterprise",
  "subject": "Locked out", "body": "The 2FA reset locked our admin out."}');
SELECT triage.submit_ticket('{"ticketId": "TKT-7", "email": "spam\@example.com",
  "subject": "Cheap watches", "body": "Buy cheap watches now."}');
SELECT triage.submit_ticket('{"ticketId": "TKT-8", "email": "dup\@example.com",
  "subject": "Locked out", "body": "Same as my other ticket."}');
});
ok($node->poll_query_until('postgres', q{
SELECT count(*) FILTER (WHERE status = 'AWAITING_AGENT') = 4 FROM triage.tickets WHERE id IN ('TKT-5', 'TKT-6', 'TKT-7', 'TKT-8')}),
	'four more tickets wait for an agent');
is(query(q{SELECT string_agg(concat_ws(':', id, analysis->>'source', analysis->>'category', analysis->>'priority',
                                       analysis->>'sentiment', analysis->>'needsEscalation',
                                       coalesce(analysis->>'escalationReason', '-')), ',' ORDER BY id)
             FROM triage.tickets WHERE id IN ('TKT-5', 'TKT-6')}),
	'TKT-5:model:account:high:negative:false:-,TKT-6:model:account:high:negative:true:enterprise customer',
	"the model's JSON is the analysis; the enterprise customer is escalated");
is(scalar(@{ $mock->requests('/v1/responses/answer') }), 4, 'one LLM request per ticket');

# the agents decide: TKT-5 approved without a reply of their own (the
# model's suggestion is sent), TKT-6 approved (then a specialist), TKT-7
# not approved, TKT-8 failed by the ticketing system (merged)
query(q{
SELECT durable_callback_success(review_callback_id, '{"agent": "ana", "approved": true}')
  FROM triage.tickets WHERE id = 'TKT-5';
SELECT durable_callback_success(review_callback_id, '{"agent": "ana", "approved": true}')
  FROM triage.tickets WHERE id = 'TKT-6';
SELECT durable_callback_success(review_callback_id, '{"agent": "bo", "approved": false, "reason": "spam"}')
  FROM triage.tickets WHERE id = 'TKT-7';
SELECT durable_callback_failure(review_callback_id, '{"message": "merged into TKT-5"}')
  FROM triage.tickets WHERE id = 'TKT-8';
});
is(await_status('ticket-TKT-5'), 'SUCCEEDED', 'the ticket the model analysed is resolved');
is(query(q{SELECT concat_ws(' | ', result->>'status', result->>'finalResponse', m.body)
             FROM durable_status('ticket-TKT-5') s JOIN triage.messages m ON m.ticket_id = 'TKT-5'}),
	'resolved | We reset your two-factor login; please sign in again. | We reset your two-factor login; please sign in again.',
	"with the model's suggested reply, mailed");
ok($node->poll_query_until('postgres', q{SELECT status FROM triage.tickets WHERE id = 'TKT-6'},
	'AWAITING_SPECIALIST'), 'the enterprise ticket waits for a specialist');
query(q{
SELECT durable_callback_success(review_callback_id, '{"agent": "sam", "reply": "Your admin can sign in again."}')
  FROM triage.tickets WHERE id = 'TKT-6';
});
is(await_status('ticket-TKT-6'), 'SUCCEEDED', 'and is resolved by the specialist');
is(query(q{SELECT concat_ws(' ', result->>'status', result->>'resolvedBy', result->>'escalated')
             FROM durable_status('ticket-TKT-6')}), 'resolved sam true', 'escalated, resolved by the specialist');

is(await_status('ticket-TKT-7'), 'SUCCEEDED', 'the ticket the agent did not approve ends');
is(query(q{SELECT result FROM durable_status('ticket-TKT-7')}),
	'{"reason": "spam", "status": "rejected", "category": "account", "priority": "high", "ticketId": "TKT-7", '
	  . '"rejectedBy": "bo", "finalResponse": null}',
	'rejected, with no response');
is(query(q{SELECT concat_ws(' ', t.status, t.review_callback_id IS NULL,
                            (SELECT count(*) FROM triage.messages WHERE ticket_id = 'TKT-7'),
                            (SELECT count(*) FROM triage.surveys WHERE ticket_id = 'TKT-7'))
             FROM triage.tickets t WHERE id = 'TKT-7'}),
	'REJECTED t 0 0', 'the ticket is REJECTED; no reply mailed, no survey');
is(query(q{SELECT string_agg(h.name || ': ' || (h.details->>'message'), ', ' ORDER BY h.event_id)
             FROM durable_history('ticket-TKT-7') h WHERE h.event = 'log'}),
	'info: the ticket was rejected', 'the rejection is a line in the history');

is(await_status('ticket-TKT-8'), 'SUCCEEDED', 'the ticket whose review the ticketing system failed ends');
is(query(q{SELECT concat_ws(' | ', s.result->>'status', t.status, t.attention_reason, t.review_callback_id IS NULL,
                            q.decision->>'error', q.completed_at IS NOT NULL)
             FROM durable_status('ticket-TKT-8') s, triage.tickets t, triage.review_queue q
            WHERE t.id = 'TKT-8' AND q.ticket_id = 'TKT-8'}),
	'needs_attention | NEEDS_ATTENTION | callback "agent-review" failed: merged into TKT-5 | t | '
	  . 'callback "agent-review" failed: merged into TKT-5 | t',
	'it NEEDS_ATTENTION with the reason, its review closed');

# an agent review that times out (a short timeout for this ticket only)
query(q{
UPDATE triage.settings SET value = '2 seconds' WHERE key = 'agent_review_timeout';
SELECT triage.submit_ticket('{"ticketId": "TKT-9", "email": "late@example.com",
  "subject": "Question", "body": "Where is the export button?"}');
});
is(await_status('ticket-TKT-9'), 'SUCCEEDED', 'the ticket whose agent review timed out ends');
query(q{UPDATE triage.settings SET value = '3 days' WHERE key = 'agent_review_timeout'});
is(query(q{SELECT concat_ws(' | ', s.result->>'status', s.result->>'finalResponse' IS NULL, t.status, t.attention_reason)
             FROM durable_status('ticket-TKT-9') s, triage.tickets t WHERE t.id = 'TKT-9'}),
	'needs_attention | t | NEEDS_ATTENTION | callback "agent-review" timed out',
	'it NEEDS_ATTENTION: the agent review timed out');
is(query(q{SELECT string_agg(h.name || ': ' || (h.details->>'message') || ' (' || (h.details->'details'->>'reason') || ')',
                             ', ' ORDER BY h.event_id)
             FROM durable_history('ticket-TKT-9') h WHERE h.event = 'log'}),
	'warning: the ticket needs attention (callback "agent-review" timed out)',
	'which is a line in the history');
is(join(',', sort map { $json->decode($_->{body})->{ticketId} } @{ $mock->requests('/echo') }), 'TKT-5,TKT-6',
	'only the resolved tickets were mailed');

# ------------------------------------------------------------ payment

$mock->reset;
query(qq{
UPDATE payments.settings SET value = '$url/seq/auth/503,200?retry_after=1' WHERE key = 'authorize_url';
UPDATE payments.settings SET value = '$url/seq/capture/200' WHERE key = 'capture_url';
UPDATE payments.settings SET value = '$url/seq/void/200' WHERE key = 'void_url';
SELECT payments.start_payment('{"orderId": "ORD-1", "amountCents": 1999, "currency": "EUR", "source": "tok_visa"}');
});
ok($node->poll_query_until('postgres',
	q{SELECT status || ' ' || current_operation FROM durable_status('pay-ORD-1')}, 'SUSPENDED settle'),
	'the payment is authorized and waits to settle');
ok(query(q{SELECT wake_at - durable_clock() BETWEEN interval '4 minutes' AND interval '5 minutes'
             FROM durable_status('pay-ORD-1')}) eq 't', 'for five minutes');

# the next payment is authorized, but its capture fails for good (400) and
# the provider answers its void with 404: it holds nothing to void
query(qq{
UPDATE payments.settings SET value = '$url/seq/auth5/200' WHERE key = 'authorize_url';
UPDATE payments.settings SET value = '$url/status/400' WHERE key = 'capture_url';
UPDATE payments.settings SET value = '$url/status/404' WHERE key = 'void_url';
SELECT payments.start_payment('{"orderId": "ORD-5", "amountCents": 2500, "currency": "EUR", "source": "tok_visa"}');
});
ok($node->poll_query_until('postgres',
	q{SELECT status || ' ' || current_operation FROM durable_status('pay-ORD-5')}, 'SUSPENDED settle'),
	'a second payment is authorized and waits to settle');

# the next ones are declined (402), and invalid (its settings are read when it starts)
query(qq{
UPDATE payments.settings SET value = '$url/status/402' WHERE key = 'authorize_url';
UPDATE payments.settings SET value = '$url/seq/void/200' WHERE key = 'void_url';
SELECT payments.start_payment('{"orderId": "ORD-2", "amountCents": 500, "currency": "USD", "source": "tok_chargeDeclined"}');
SELECT payments.start_payment('{"orderId": "ORD-3", "amountCents": 0, "currency": "XYZ", "source": "tok_visa"}');
});
is(await_status('pay-ORD-2'), 'SUCCEEDED', 'the declined payment ends');
is(query(q{SELECT result FROM durable_status('pay-ORD-2')}),
	'{"reason": "the provider answered HTTP 402", "voided": false, "outcome": "declined", "paymentId": "pay-ORD-2"}',
	'with a clear outcome: declined, nothing voided');
is(query(q{SELECT string_agg(event || ':' || coalesce(idempotency_key, '-') || ':' || coalesce(http_status::text, '-'),
                             ',' ORDER BY id) FROM payments.payment_events WHERE payment_id = 'pay-ORD-2'}),
	'validated:-:-,declined:pay-ORD-2:authorize:402',
	'the decline is recorded with its idempotency key, and no void');
is(query(q{SELECT status || ' ' || reason FROM payments.payments WHERE id = 'pay-ORD-2'}),
	'DECLINED the provider answered HTTP 402', 'the payment is DECLINED');
is(query(q{SELECT string_agg(h.name || ': ' || (h.details->>'message'), ', ' ORDER BY h.event_id)
             FROM durable_history('pay-ORD-2') h WHERE h.event = 'log'}),
	'info: payment declined', 'a line in its history says so');
is(await_status('pay-ORD-3'), 'SUCCEEDED', 'an invalid payment ends');
is(query(q{SELECT result->>'outcome' || ' ' || (result->'reasons')::text FROM durable_status('pay-ORD-3')}),
	'rejected ["amountCents must be a whole number from 1 to 1000000", "currency must be EUR, USD or GBP"]',
	'rejected, with its reasons, and nothing sent');

# a provider that answers an authorization with 404 declines it too
query(qq{
UPDATE payments.settings SET value = '$url/status/404' WHERE key = 'authorize_url';
SELECT payments.start_payment('{"orderId": "ORD-6", "amountCents": 700, "currency": "GBP", "source": "tok_visa"}');
});
is(await_status('pay-ORD-6'), 'SUCCEEDED', 'the payment whose authorization got 404 ends');
is(query(q{SELECT concat_ws(' | ', s.result->>'outcome', s.result->>'voided', p.status, p.reason)
             FROM durable_status('pay-ORD-6') s JOIN payments.payments p ON p.id = 'pay-ORD-6'}),
	'declined | false | DECLINED | the provider answered HTTP 404', 'DECLINED, nothing voided');

# a provider that never answers (503 until the retries run out) may have
# authorized a request whose answer was lost: the void goes out, and its
# 404 says there was nothing to void
query(qq{
UPDATE payments.settings SET value = '$url/status/503' WHERE key = 'authorize_url';
UPDATE payments.settings SET value = '$url/status/404' WHERE key = 'void_url';
SELECT payments.start_payment('{"orderId": "ORD-7", "amountCents": 900, "currency": "EUR", "source": "tok_visa"}');
});
is(query(q{SELECT status FROM durable_status('pay-ORD-1')}), 'SUSPENDED', 'the first payment still waits');

# move the workers' durable clock past the settle wait (the retries of
# ORD-7 are due earlier too; the clock goes back only once it is done)
query(q{ALTER SYSTEM SET durable.clock_offset = '6 minutes'; SELECT pg_reload_conf();});
is(await_status('pay-ORD-1'), 'SUCCEEDED', 'once the durable clock has moved, the payment is captured');
is(await_status('pay-ORD-5'), 'SUCCEEDED', 'the payment whose capture failed ends');
is(query(q{SELECT durable_await('pay-ORD-7', '180 seconds')}), 'SUCCEEDED',
	'the payment whose provider never answered ends');
query(q{ALTER SYSTEM RESET durable.clock_offset; SELECT pg_reload_conf();});
is(query(q{SELECT result->>'outcome' || ' ' || (result->>'amountCents') || ' ' || (result->>'currency')
             FROM durable_status('pay-ORD-1')}), 'captured 1999 EUR', 'outcome: captured');
is(query(q{SELECT string_agg(event || ':' || coalesce(idempotency_key, '-') || ':' || coalesce(http_status::text, '-'),
                             ',' ORDER BY id) FROM payments.payment_events WHERE payment_id = 'pay-ORD-1'}),
	'validated:-:-,authorized:pay-ORD-1:authorize:200,captured:pay-ORD-1:capture:200',
	'validated, authorized, captured');
is(query(q{SELECT concat_ws(' | ', s.result->>'outcome', s.result->>'voided', p.status,
                            (SELECT string_agg(event || ':' || coalesce(http_status::text, '-'), ',' ORDER BY id)
                               FROM payments.payment_events WHERE payment_id = 'pay-ORD-5'))
             FROM durable_status('pay-ORD-5') s JOIN payments.payments p ON p.id = 'pay-ORD-5'}),
	'capture_failed | false | VOIDED | validated:-,authorized:200,nothing_to_void:404',
	'the failed capture is compensated; the void answered 404 is recorded as nothing to void');
is(query(q{SELECT concat_ws(' | ', s.result->>'outcome', s.result->>'voided', p.status,
                            (SELECT string_agg(event || ':' || coalesce(idempotency_key, '-') || ':'
                                               || coalesce(http_status::text, '-'), ',' ORDER BY id)
                               FROM payments.payment_events WHERE payment_id = 'pay-ORD-7'))
             FROM durable_status('pay-ORD-7') s JOIN payments.payments p ON p.id = 'pay-ORD-7'}),
	'provider_error | false | DECLINED | validated:-:-,declined:pay-ORD-7:authorize:-,nothing_to_void:pay-ORD-7:void:404',
	'the unanswered authorization is compensated by a void by reference, nothing to void: DECLINED');
is($json->encode(keys_of('/seq/')),
	'{"pay-ORD-1:authorize":2,"pay-ORD-1:capture":1,"pay-ORD-5:authorize":1}',
	'every provider call carried its idempotency key; the 503 was retried under the same key; no void for a decline');
is(join(',', map { $_->{headers}{authorization} } @{ $mock->requests('/seq/') }),
	join(',', ('Bearer sk-test-pay-7373') x 4), 'with the provider secret');
is(scalar(@{ $mock->requests('/status/402') }), 1, 'the declined authorization was sent once');
is($json->encode(keys_of('/status/404')),
	'{"pay-ORD-5:void":1,"pay-ORD-6:authorize":1,"pay-ORD-7:void":1}',
	'the authorization answered 404 was sent once, and a void only where something may be held');
is(scalar(@{ $mock->requests('/status/503') }), 5, 'the unanswered authorization was tried five times');

$node->stop;
$mock->stop;
done_testing();

# Queues of executions with the background workers (issue 16).
#
# Every execution records, from its own steps, when it began and when it
# ended (a row per execution: begin at its first step, end at its last), so
# the peaks below are what the executions saw, not samples from outside.
# - max_concurrency 3, 30 executions that suspend in between (so more than
#   the two workers could be in progress): the peak of overlapping
#   executions is exactly 3;
# - max_concurrency_per_key 2 over three keys: each key peaks at exactly 2,
#   the queue above 2;
# - rate 5 per second, 20 executions: the span from the first begin to the
#   last is at least 3 s (the window allows no faster) and at most 3 s plus
#   20 s of slack for a loaded machine; in every window of 0.75 s at most 5
#   begin (the tolerance: a step records its beginning up to 0.25 s after
#   the admission's time, the drive's jitter on a loaded machine);
# - fairness: 1,000 waiting on one key, then 10 on another, one at a time:
#   the 10 all begin before the 100th of the 1,000;
# - priority: behind a blocker, priorities 5, 1, 3, 1, -2 begin in the order
#   -2, 1 (the older), 1, 3, 5;
# - debounce: five starts under one key within the debounce: one execution,
#   with the last input, beginning no sooner than the debounce after the
#   last start;
# - the triage seed: two tickets of one customer never overlap, tickets of
#   two customers do.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);
use File::Basename qw(dirname);
use Cwd qw(abs_path);
use DurableMock;

my $root = abs_path(dirname(__FILE__) . '/../..');
my $mock = DurableMock->new;
my $url  = $mock->url;

my $node = PostgreSQL::Test::Cluster->new('queues');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'durable'
durable.max_workers = 2
durable.database = 'postgres'
durable.http_allow_addresses = '127.0.0.1'
});
$node->start;

sub query { return $node->safe_psql('postgres', $_[0]); }

# polls until the query returns 't', for at most $secs seconds
sub wait_for
{
	my ($sql, $secs) = @_;
	my $deadline = time + $secs;
	while (time < $deadline)
	{
		return 1 if query($sql) eq 't';
		sleep 0.1;
	}
	return 0;
}

query(q{
CREATE EXTENSION durable;
CREATE TABLE span (id uuid PRIMARY KEY, queue text, key text, input jsonb,
                   seq bigserial, b timestamptz NOT NULL, e timestamptz);
-- begins, waits (suspended) for input.nap milliseconds, ends
CREATE FUNCTION spanned(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  PERFORM durable_step('begin',
    'INSERT INTO span (id, queue, key, input, b) VALUES (($1->>''tok'')::uuid, $1->>''queue'', $1->>''key'', $1, '
    'clock_timestamp()) RETURNING seq', input);
  IF coalesce((input->>'nap')::int, 0) > 0 THEN
    PERFORM durable_wait('nap', (input->>'nap')::int * interval '1 millisecond');
  END IF;
  PERFORM durable_step('end', 'UPDATE span SET e = clock_timestamp() WHERE id = ($1->>''tok'')::uuid RETURNING seq',
                       input);
  RETURN input;
END $$;
-- the peak number of executions of a queue (and key) in progress at once
CREATE FUNCTION peak(q text, k text DEFAULT NULL) RETURNS bigint LANGUAGE sql AS $$
  SELECT max(n) FROM (SELECT sum(d) OVER (ORDER BY t, d ROWS UNBOUNDED PRECEDING) AS n
                        FROM (SELECT b AS t, 1 AS d FROM span WHERE queue = q AND (k IS NULL OR key = k)
                              UNION ALL
                              SELECT e, -1 FROM span WHERE queue = q AND (k IS NULL OR key = k)) x) y
$$;
CREATE FUNCTION start_in(q text, n int, nap int, k text DEFAULT NULL, prio int DEFAULT 0)
RETURNS bigint LANGUAGE sql AS $$
  SELECT count(durable_start('spanned', jsonb_build_object('queue', q, 'key', k, 'nap', nap, 'i', i,
                                                         'tok', gen_random_uuid()),
                             options => jsonb_strip_nulls(jsonb_build_object('queue', q, 'key', k,
                                                                             'priority', prio))))
    FROM generate_series(1, n) i
$$;
});

ok(wait_for(q{SELECT count(*) = 2 FROM pg_stat_activity WHERE backend_type = 'durable worker'}, 60),
	'two durable workers are running');

# --- max_concurrency --------------------------------------------------------
query(q{SELECT durable_queue_set('cap', '{"max_concurrency": 3}');
        SELECT start_in('cap', 30, 150);});
ok(wait_for(q{SELECT count(*) = 30 FROM span WHERE queue = 'cap' AND e IS NOT NULL}, 180),
	'the 30 executions of a queue of 3 all ran');
is(query(q{SELECT peak('cap')}), '3', 'at most 3 were in progress at once, and 3 were');
is(query(q{SELECT count(*) FROM durable.executions WHERE status = 'SUCCEEDED'
             AND input->>'queue' = 'cap'}), '30', 'all succeeded');

# --- max_concurrency_per_key ------------------------------------------------
query(q{SELECT durable_queue_set('perkey', '{"max_concurrency_per_key": 2}');
        SELECT start_in('perkey', 6, 150, k) FROM unnest(ARRAY['a', 'b', 'c']) k;});
ok(wait_for(q{SELECT count(*) = 18 FROM span WHERE queue = 'perkey' AND e IS NOT NULL}, 180),
	'the 18 executions of three keys all ran');
is(query(q{SELECT string_agg(k || '=' || peak('perkey', k), ',' ORDER BY k)
             FROM unnest(ARRAY['a', 'b', 'c']) k}), 'a=2,b=2,c=2',
	'each key had at most 2 in progress at once, and 2');
cmp_ok(query(q{SELECT peak('perkey')}), '>', 2, 'the keys ran side by side');

# --- rate -------------------------------------------------------------------
query(q{SELECT durable_queue_set('rated', '{"rate": 5, "period": "1 second"}');
        SELECT start_in('rated', 20, 0);});
ok(wait_for(q{SELECT count(*) = 20 FROM span WHERE queue = 'rated' AND e IS NOT NULL}, 120),
	'the 20 executions of a rated queue all ran');
my $span = query(q{SELECT extract(epoch FROM max(b) - min(b)) FROM span WHERE queue = 'rated'});
diag(sprintf('rate 5 per second, 20 executions: from first to last begin %.2f s', $span));
cmp_ok($span, '>=', 2.99, 'the rate allowed 20 beginnings in no less than 3 s');
cmp_ok($span, '<=', 23, 'nor much more');
my $window = query(q{SELECT max((SELECT count(*) FROM span t WHERE t.queue = 'rated'
                                    AND t.b >= s.b AND t.b < s.b + interval '750 milliseconds'))
                       FROM span s WHERE s.queue = 'rated'});
diag("most beginnings in a 0.75-second window: $window");
cmp_ok($window, '<=', 5, 'at most 5 began in any window of 0.75 s (1 s less 0.25 s of drive jitter)');

# --- fairness ---------------------------------------------------------------
query(q{SELECT durable_queue_set('fair', '{"max_concurrency": 1}');});
query(q{SELECT start_in('fair', 1000, 0, 'big');});
query(q{SELECT start_in('fair', 10, 0, 'small');});
ok(wait_for(q{SELECT count(*) FILTER (WHERE key = 'small' AND e IS NOT NULL) = 10
                 AND count(*) FILTER (WHERE key = 'big') >= 100 FROM span WHERE queue = 'fair'}, 600),
	'the 10 of the small key and 100 of the big key ran');
my $hundredth = query(q{SELECT seq FROM span WHERE queue = 'fair' AND key = 'big'
                         ORDER BY seq OFFSET 99 LIMIT 1});
my $last_small = query(q{SELECT max(seq) FROM span WHERE queue = 'fair' AND key = 'small'});
diag("the 10th of the small key began as number "
	  . query(qq{SELECT count(*) FROM span WHERE queue = 'fair' AND seq <= $last_small}) . ' of the queue');
cmp_ok($last_small, '<', $hundredth, 'the 10 of the small key began before the 100th of the big key');
ok(wait_for(q{SELECT waiting + running = 0 FROM durable.queue_status WHERE queue = 'fair'}, 600),
	'all 1,010 ran and left the queue');
is(query(q{SELECT count(*) FROM span WHERE queue = 'fair' AND e IS NOT NULL}), '1010', 'each once');

# --- priority ---------------------------------------------------------------
query(q{SELECT durable_queue_set('prio', '{"max_concurrency": 1}');
        SELECT start_in('prio', 1, 3000, 'blocker');});
ok(wait_for(q{SELECT count(*) = 1 FROM span WHERE queue = 'prio'}, 60), 'the blocker runs');
query(q{SELECT start_in('prio', 1, 0, 'p5', 5);
        SELECT start_in('prio', 1, 0, 'p1a', 1);
        SELECT start_in('prio', 1, 0, 'p3', 3);
        SELECT start_in('prio', 1, 0, 'p1b', 1);
        SELECT start_in('prio', 1, 0, 'p-2', -2);});
ok(wait_for(q{SELECT count(*) = 6 FROM span WHERE queue = 'prio' AND e IS NOT NULL}, 120),
	'all six ran');
is(query(q{SELECT string_agg(key, ',' ORDER BY seq) FROM span WHERE queue = 'prio'}),
	'blocker,p-2,p1a,p1b,p3,p5', 'smaller priority first, then first come first served');

# --- debounce ---------------------------------------------------------------
query(q{SELECT durable_queue_set('deb', '{}');
        CREATE TABLE deb_ids (id uuid, at timestamptz);});
for my $n (1 .. 5)
{
	query(qq{INSERT INTO deb_ids SELECT durable_start('spanned', jsonb_build_object('queue', 'deb', 'key', 'k', 'n', $n, 'tok', gen_random_uuid()),
	           options => '{"queue": "deb", "key": "k", "debounce": "2 seconds"}'), statement_timestamp();});
}
is(query(q{SELECT count(DISTINCT id) FROM deb_ids}), '1', 'five debounced starts: one execution');
ok(wait_for(q{SELECT count(*) = 1 FROM span WHERE queue = 'deb' AND e IS NOT NULL}, 60), 'it ran');
is(query(q{SELECT input->>'n' FROM span WHERE queue = 'deb'}), '5', 'with the input of the last start');
is(query(q{SELECT (SELECT b FROM span WHERE queue = 'deb') >= max(at) + interval '2 seconds' FROM deb_ids}),
	't', 'beginning no sooner than 2 s after the last start');

# --- the triage seed --------------------------------------------------------
query(slurp_file("$root/examples/ticket_triage.sql"));
query(qq{
SELECT durable_secret_set('llm_api_key', 'sk-test-llm-4242', ARRAY['127.0.0.1']);
UPDATE triage.settings SET value = '$url/status/400' WHERE key = 'llm_url';
UPDATE triage.settings SET value = '$url/echo' WHERE key = 'mailer_url';
SELECT triage.submit_ticket('{"ticketId": "A-1", "email": "kim\@acme.example", "customer": "acme",
  "subject": "Invoice charged twice", "body": "We were billed twice in March."}');
SELECT triage.submit_ticket('{"ticketId": "A-2", "email": "lee\@acme.example", "customer": "acme",
  "subject": "Wrong VAT", "body": "Our VAT number is missing."}');
SELECT triage.submit_ticket('{"ticketId": "G-1", "email": "max\@globex.example", "customer": "globex",
  "subject": "Cannot log in", "body": "My password reset mail never arrives."}');
});
ok(wait_for(q{SELECT count(*) = 2 FROM triage.tickets WHERE id IN ('A-1', 'G-1') AND status = 'AWAITING_AGENT'}, 120),
	'the first tickets of two customers wait for an agent at the same time');
is(query(q{SELECT t.status || ':' || x.status FROM triage.tickets t JOIN durable.executions x ON x.id = t.execution_id
             WHERE t.id = 'A-2'}), 'NEW:PENDING', 'the second ticket of a customer waits in the queue');
is(query(q{SELECT string_agg(key || ':' || waiting || ':' || running, ',' ORDER BY key)
             FROM durable.queue_status WHERE queue = 'triage'}), 'acme:1:1,globex:0:1',
	'durable.queue_status shows it per customer');
query(q{SELECT durable_callback_success(review_callback_id, '{"agent": "ana", "reply": "Refunded."}')
          FROM triage.tickets WHERE id = 'A-1';});
ok(wait_for(q{SELECT status = 'AWAITING_AGENT' FROM triage.tickets WHERE id = 'A-2'}, 120),
	'once the first is resolved, the second ticket of the customer is triaged');
is(query(q{SELECT a.status FROM triage.tickets a WHERE a.id = 'A-1'}), 'RESOLVED', 'the first was resolved');
is(query(q{SELECT (SELECT min(h.at) FROM durable.history h JOIN triage.tickets t ON t.execution_id = h.execution_id
                     WHERE t.id = 'A-2' AND h.event = 'started')
                >= (SELECT x.updated_at FROM durable.executions x JOIN triage.tickets t ON t.execution_id = x.id
                     WHERE t.id = 'A-1')}), 't', 'the two tickets of one customer did not overlap');

# nothing unexpected in the log
my $log = slurp_file($node->logfile);
unlike($log, qr/WARNING|PANIC|TRAP/, 'no warning in the server log');

$node->stop;
done_testing();

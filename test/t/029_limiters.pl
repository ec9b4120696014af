# Limiters of operations with the background workers (issue 16).
#
# With 4 workers and a limiter of max_concurrency 3, the steps holding it
# overlap 3 at a time and never 4: each step records when its body began
# and ended, and the peak of overlapping bodies is exactly 3.  A rate of
# 5 per second (burst 1) paces 25 steps: the rate observed from the first
# to the last is at most 15% above 5 per second (and at least half of it).
# A waiter is woken by the holder's release: its step begins less than
# 2 s after the holder's step ended (the workers' idle poll is 10 s, the
# waiters' safety recheck 5 min).  Eight waiters, queued one after the
# other, get the limiter in that order, and meanwhile another execution
# runs at once: those in line hold no worker.  Twenty requests under a
# limiter of 3 are exactly 3 at once at the server at the most.  A 429
# with Retry-After: 3 on a request governed by a limiter pauses it:
# requests of other executions that came meanwhile are sent only after
# the 3 seconds.  A worker killed with kill -9 while its step holds a
# limiter: after the restart the step runs again holding the same slot
# and the limiter ends free.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);
use DurableMock;

my $mock = DurableMock->new(name => 'mock_029');
my $url  = $mock->url;

my $node = PostgreSQL::Test::Cluster->new('limiters');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'durable'
durable.max_workers = 4
durable.database = 'postgres'
durable.http_allow_addresses = '127.0.0.1'
durable.http_max_in_flight_per_role = 0
restart_after_crash = on
});
$node->start;

$node->safe_psql('postgres', q{
CREATE EXTENSION durable;
-- every step body records when it began and ended (clock time), in its
-- own transaction: rows of steps that committed
CREATE TABLE spans (who text, began timestamptz, ended timestamptz);
CREATE FUNCTION limited(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN durable_step('work',
    format('INSERT INTO spans (who, began) VALUES (%L, clock_timestamp()); '
           'SELECT pg_sleep(%s); '
           'UPDATE spans SET ended = clock_timestamp() WHERE who = %L RETURNING who',
           input->>'who', coalesce(input->>'sleep', '0'), input->>'who'),
    NULL, jsonb_build_object('limiter', input->>'limiter'));
END $$;
CREATE FUNCTION get(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN durable_http('get', jsonb_build_object('url', input->>'url'),
                      jsonb_build_object('limiter', input->>'limiter', 'jitter', 'none',
                                         'initial_delay', '100 milliseconds'));
END $$;
});

# starts "limited" for each who (a list), with a limiter and a sleep
sub start_limited
{
	my ($limiter, $sleep, @who) = @_;
	my $list = join(',', map { "'$_'" } @who);
	$node->safe_psql('postgres', qq{
SELECT count(durable_start('limited', jsonb_build_object('who', w, 'limiter', '$limiter',
                                                        'sleep', $sleep), name => w))
  FROM unnest(ARRAY[$list]) w});
}

# polls until every execution named like the pattern has finished
sub wait_finished
{
	my ($like, $n) = @_;
	return $node->poll_query_until('postgres', qq{
SELECT count(*) FILTER (WHERE status = 'SUCCEEDED') = $n
       OR count(*) FILTER (WHERE status IN ('FAILED', 'STOPPED', 'TIMED_OUT')) > 0
  FROM durable.executions WHERE name LIKE '$like'});
}

# --- max_concurrency: the peak is exactly the limit --------------------------
$node->safe_psql('postgres', q{SELECT durable_limiter_set('conc', '{"max_concurrency": 3}')});
my @conc = map { "c$_" } 1 .. 24;
start_limited('conc', '0.3', @conc);
ok(wait_finished('c%', 24), '24 steps under a limiter of 3 all succeed');
my $peak = $node->safe_psql('postgres', q{
SELECT max((SELECT count(*) FROM spans o
             WHERE o.who LIKE 'c%' AND o.began <= s.began AND o.ended > s.began))
  FROM spans s WHERE s.who LIKE 'c%'});
is($peak, 3, 'the steps holding the limiter overlapped 3 at most and 3 at a peak (4 workers)');
is($node->safe_psql('postgres', q{
SELECT count(*) FROM durable.history h JOIN durable.executions e ON e.id = h.execution_id
 WHERE e.name LIKE 'c%' AND h.event = 'limiter_waiting' AND h.details->>'limiter' = 'conc'})
	> 0 ? 1 : 0, 1, 'waits show in the history with the limiter\'s name');

# --- a rate: 5 per second, burst 1 ------------------------------------------
$node->safe_psql('postgres', q{SELECT durable_limiter_set('pace', '{"rate": 5, "period": "1 second"}')});
my @pace = map { "p$_" } 1 .. 25;
start_limited('pace', '0', @pace);
ok(wait_finished('p%', 25), '25 steps under a rate of 5 per second all succeed');
my @t = split /\n/, $node->safe_psql('postgres', q{
SELECT extract(epoch FROM began) FROM spans WHERE who LIKE 'p%' ORDER BY began});
my $span = $t[-1] - $t[0];
my $rate = (@t - 1) / $span;
diag(sprintf('25 steps under 5/s: %.2f s from the first to the last, %.2f per second', $span, $rate));
ok($rate <= 5 * 1.15, sprintf('observed rate %.2f/s is at most 5/s + 15%%', $rate));
ok($rate >= 5 * 0.5, sprintf('observed rate %.2f/s is at least half the limit: the limiter lets them go', $rate));

# --- woken by the release, not by a poll -------------------------------------
$node->safe_psql('postgres', q{SELECT durable_limiter_set('one', '{"max_concurrency": 1}')});
start_limited('one', '2', 'holder');
ok($node->poll_query_until('postgres', q{
SELECT count(*) = 1 FROM durable.limiter_holders WHERE limiter = 'one'}), 'the holder holds the limiter');
start_limited('one', '0', 'waiter');
ok($node->poll_query_until('postgres', q{
SELECT e.status = 'SUSPENDED' FROM durable.executions e
  JOIN durable.limiter_waiters w ON w.execution_id = e.id WHERE e.name = 'waiter'}),
	'the waiter is suspended in line');
ok(wait_finished('waiter', 1), 'the waiter runs once the holder is done');
my $gap = $node->safe_psql('postgres', q{
SELECT extract(epoch FROM (SELECT began FROM spans WHERE who = 'waiter')
                        - (SELECT ended FROM spans WHERE who = 'holder'))});
diag(sprintf('from the end of the holder\'s step to the beginning of the waiter\'s: %.3f s', $gap));
ok($gap > 0 && $gap < 2, 'the waiter began less than 2 s after the holder\'s step ended');

# --- first come, first served; those in line hold no worker ----------------
$node->safe_psql('postgres', q{SELECT durable_limiter_set('fifo', '{"max_concurrency": 1}')});
$node->safe_psql('postgres', q{SELECT durable_limiter_set('unused', '{"max_concurrency": 100}')});
start_limited('fifo', '8', 'f0');
ok($node->poll_query_until('postgres', q{
SELECT count(*) = 1 FROM durable.limiter_holders WHERE limiter = 'fifo'}), 'f0 holds the limiter');
for my $i (1 .. 8)
{
	start_limited('fifo', '0.05', "f$i");
	# in line (or, on a very slow machine, through it already)
	$node->poll_query_until('postgres', qq{
SELECT EXISTS (SELECT 1 FROM durable.limiter_waiters w JOIN durable.executions e ON e.id = w.execution_id
                WHERE e.name = 'f$i')
    OR EXISTS (SELECT 1 FROM spans WHERE who = 'f$i')})
	  or die "f$i never joined the line";
}
# 4 workers, one running f0's step, eight executions in line: a ninth
# execution without a limiter runs at once, as those in line hold no worker
$node->safe_psql('postgres', q{
SELECT durable_start('limited', '{"who": "other", "limiter": "unused"}', name => 'other')});
ok($node->poll_query_until('postgres', q{SELECT status <> 'PENDING' FROM durable_status('other')}),
	'an execution that does not wait for the limiter is driven');
ok(wait_finished('f%', 9), 'the nine steps of the line succeed');
is($node->safe_psql('postgres', q{
SELECT string_agg(who, ' ' ORDER BY began) FROM spans WHERE who LIKE 'f%'}),
	'f0 f1 f2 f3 f4 f5 f6 f7 f8', 'they held the limiter in the order they came');
is($node->safe_psql('postgres', q{
SELECT (SELECT finished_at FROM durable.executions WHERE name = 'other')
     < (SELECT ended FROM spans WHERE who = 'f0')}),
	't', 'the other execution finished while the eight waited in line');

# --- requests in flight: the mock sees exactly max_concurrency at once ------
$node->safe_psql('postgres', q{SELECT durable_limiter_set('http3', '{"max_concurrency": 3}')});
$mock->reset;
$node->safe_psql('postgres', qq{
SELECT count(durable_start('get', jsonb_build_object('url', '$url/delay/300?k=' || g,
                                                     'limiter', 'http3'), name => 'd-' || g))
  FROM generate_series(1, 20) g});
ok($node->poll_query_until('postgres', q{
SELECT count(*) = 20 FROM durable.executions WHERE name LIKE 'd-%' AND status = 'SUCCEEDED'}),
	'20 requests under a limiter of 3 succeed');
my (undef, $stats) = $mock->request('GET', '/_stats');
is($stats->{max_in_progress}, 3, 'the server had exactly 3 of them in progress at the most');

# --- a 429 with Retry-After pauses the limiter for everybody ------------------
$node->safe_psql('postgres', q{SELECT durable_limiter_set('prov', '{"max_concurrency": 10}')});
$node->safe_psql('postgres', qq{
SELECT durable_start('get', jsonb_build_object('url', '$url/seq/p429/429,200?retry_after=3',
                                               'limiter', 'prov'), name => 'h-429')});
ok($node->poll_query_until('postgres', q{
SELECT paused_until > now() FROM durable.limiters WHERE name = 'prov'}), 'the 429 paused the limiter');
$node->safe_psql('postgres', qq{
SELECT count(durable_start('get', jsonb_build_object('url', '$url/seq/pb' || g || '/200',
                                                     'limiter', 'prov'), name => 'h-b' || g))
  FROM generate_series(1, 4) g});
ok($node->poll_query_until('postgres', q{
SELECT count(*) = 5 FROM durable.executions WHERE name LIKE 'h-%' AND status = 'SUCCEEDED'}),
	'the paused request and the four others succeed');
my $first = $mock->requests('/seq/p429')->[0]{time};
my @others = map { $_->{time} - $first } @{ $mock->requests('/seq/pb') };
is(scalar @others, 4, 'each of the four others was sent once');
my $soonest = (sort { $a <=> $b } @others)[0];
diag(sprintf('the others were sent %.2f s after the 429 at the soonest', $soonest));
ok($soonest >= 2.9, 'none of them was sent before the Retry-After of 3 s had passed');

# --- kill -9 while a step holds the limiter ----------------------------------
$node->safe_psql('postgres', q{SELECT durable_limiter_set('crash', '{"max_concurrency": 1}')});
start_limited('crash', '3', 'k1');
my $running = q{
SELECT a.pid FROM durable.activity a JOIN durable.executions e ON e.id = a.execution_id
 WHERE e.name = 'k1' AND a.state = 'running' AND a.operation = 'work' AND a.attempt = 1};
ok($node->poll_query_until('postgres', "SELECT EXISTS ($running)"), 'the step holding the limiter runs');
my $pid = $node->safe_psql('postgres', $running);
is($node->safe_psql('postgres', q{SELECT count(*) FROM durable.limiter_holders WHERE limiter = 'crash'}),
	1, 'it holds the limiter');
ok(kill('KILL', $pid), "kill -9 of worker $pid");
ok($node->poll_query_until('postgres', q{
SELECT status = 'SUCCEEDED' FROM durable.executions WHERE name = 'k1'}),
	'after the crash the step runs again and succeeds');
is($node->safe_psql('postgres', q{
SELECT (SELECT count(*) FROM durable.limiter_holders) || ' ' ||
       (SELECT count(*) FROM durable.limiter_waiters)}), '0 0', 'no limiter is held or waited for any more');
start_limited('crash', '0', 'k2');
ok(wait_finished('k2', 1), 'the limiter is free for the next one');

$node->stop;
$mock->stop;
done_testing();

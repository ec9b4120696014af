# Quotas on fan-out and starts, with the background workers (issue 13, F4).
#
# A map of 5,000 items without max_concurrency never has more than
# durable.max_children_in_progress children unfinished at once: sampled
# from outside while it runs, and recorded by the children themselves (a
# gauge row their steps update, serialized, so its peak is exact); it
# completes with every item.  A step that starts its own workflow without
# end is stopped by the nesting limit at 33 executions.  The review's fork
# bomb (a step that starts its own workflow twice), without an end, stays
# within durable.max_executions_per_role while it runs and dies out when
# the quota drops to 1; afterwards the role's count is exact again: one
# start is accepted and the next refused.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);

my $cap = 20;
my $items = 5000;

my $node = PostgreSQL::Test::Cluster->new('quotas');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'durable'
durable.max_workers = 3
durable.database = 'postgres'
durable.max_children_in_progress = $cap
});
$node->start;

$node->safe_psql('postgres', q{
CREATE EXTENSION durable;
CREATE TABLE gauge (running int NOT NULL, peak int NOT NULL, done int NOT NULL);
INSERT INTO gauge VALUES (0, 0, 0);

-- a map child: "running" from its first step to its last, suspended on a
-- short timer in between so that many overlap
CREATE FUNCTION gauged(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  PERFORM durable_step('enter',
    'UPDATE gauge SET running = running + 1, peak = greatest(peak, running + 1) RETURNING running');
  PERFORM durable_wait('busy', ((input->>'index')::int % 5 + 1) * interval '2 milliseconds');
  PERFORM durable_step('leave', 'UPDATE gauge SET running = running - 1, done = done + 1 RETURNING running');
  RETURN to_jsonb((input->>'item')::int * 2);
END $$;
CREATE FUNCTION mapper(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN durable_map('m', input->'items', 'gauged') - 'results';
END $$;

CREATE ROLE alice LOGIN;
CREATE SCHEMA alice AUTHORIZATION alice;
});

# --- a wide map runs at the cap ---------------------------------------------
my $t0 = time;
my $map = $node->safe_psql('postgres', qq{
SELECT durable_start('mapper', jsonb_build_object('items',
         (SELECT jsonb_agg(g ORDER BY g) FROM generate_series(1, $items) g)), name => 'wide');
});
my ($samples, $max_seen, $status) = (0, 0, '');
my $deadline = time + 600;
while (time < $deadline)
{
	my ($unfinished, $st) = split /\|/, $node->safe_psql('postgres', qq{
SELECT (SELECT count(*) FROM durable.executions
         WHERE parent_id = '$map' AND status IN ('PENDING', 'RUNNING', 'SUSPENDED')),
       (SELECT status FROM durable.executions WHERE id = '$map')});
	$samples++;
	$max_seen = $unfinished if $unfinished > $max_seen;
	$status = $st;
	last if $st !~ /^(PENDING|RUNNING|SUSPENDED)$/;
	sleep 0.2;
}
my $map_time = time - $t0;
diag(sprintf('map of %d items, no max_concurrency, cap %d, 3 workers: %.1f s, %d samples',
	$items, $cap, $map_time, $samples));
is($status, 'SUCCEEDED', 'the wide map completes');
cmp_ok($max_seen, '<=', $cap, "never more than $cap unfinished children seen (saw $max_seen)");
cmp_ok($max_seen, '>', 1, 'children ran concurrently');
my ($peak, $running, $done) = split /\|/,
  $node->safe_psql('postgres', 'SELECT peak, running, done FROM gauge');
cmp_ok($peak, '<=', $cap, "the children themselves never counted more than $cap running (peak $peak)");
is("$running|$done", "0|$items", 'every child entered and left once');
is($node->safe_psql('postgres', qq{
SELECT result->>'succeeded' || '/' || (result->>'total') FROM durable.executions WHERE id = '$map'}),
	"$items/$items", 'every item succeeded');
is($node->safe_psql('postgres', qq{
SELECT sum((r->>'result')::bigint) = (SELECT sum(g * 2) FROM generate_series(1, $items) g)
  FROM durable.operations o, jsonb_array_elements(o.result->'results') r
 WHERE o.execution_id = '$map' AND o.name = 'm'}), 't', 'the results are those of the items');

# --- a step that starts its own workflow without end: the nesting limit ----
$node->safe_psql('postgres', q{
SET ROLE alice;
CREATE FUNCTION alice.chain(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  PERFORM durable_step('fork', $q$SELECT durable_start('alice.chain', jsonb_build_object('gen', ($1->>'gen')::int + 1))$q$,
                       input);
  RETURN input;
END $$;
SELECT durable_start('alice.chain', '{"gen": 0}');
});
ok($node->poll_query_until('postgres', q{
SELECT count(*) FILTER (WHERE status IN ('PENDING', 'RUNNING', 'SUSPENDED')) = 0
       AND count(*) FILTER (WHERE status = 'FAILED') = 1
  FROM durable.executions WHERE workflow = 'alice.chain'}), 'the chain ends');
is($node->safe_psql('postgres', q{
SELECT count(*) || ' ' || max(depth) || ' ' || count(*) FILTER (WHERE status = 'SUCCEEDED')
  FROM durable.executions WHERE workflow = 'alice.chain'}), '33 32 32',
	'33 executions, depths 0 to 32, the last one failed');
like($node->safe_psql('postgres', q{
SELECT error->>'message' FROM durable.executions WHERE workflow = 'alice.chain' AND status = 'FAILED'}),
	qr/nested more than 32 levels deep/, 'stopped by the nesting limit');

# --- the review's fork bomb without an end: the per-role quota --------------
my $quota = 40;
$node->safe_psql('postgres', qq{
ALTER SYSTEM SET durable.max_executions_per_role = $quota;
SELECT pg_reload_conf();
});
sleep 1;    # the workers take the reload in at their next wake
$node->safe_psql('postgres', q{
SET ROLE alice;
CREATE FUNCTION alice.fork(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  PERFORM durable_step('fork', $q$SELECT durable_start('alice.fork', '{}'), durable_start('alice.fork', '{}')$q$,
                       NULL, '{"max_attempts": 1}');
  RETURN input;
END $$;
SELECT durable_start('alice.fork', '{}');
});
# while it runs, alice never has more than the quota unfinished (up to the
# starts that commit concurrently: 3 workers, 2 starts per step)
($samples, $max_seen) = (0, 0);
my $total = 0;
$deadline = time + 20;
while (time < $deadline)
{
	my ($unfinished, $all) = split /\|/, $node->safe_psql('postgres', q{
SELECT count(*) FILTER (WHERE status IN ('PENDING', 'RUNNING', 'SUSPENDED')), count(*)
  FROM durable.executions WHERE workflow = 'alice.fork'});
	$samples++;
	$max_seen = $unfinished if $unfinished > $max_seen;
	$total = $all;
	last if $all >= 400 && $samples >= 20;
	sleep 0.1;
}
diag("fork bomb under a quota of $quota: $total executions, at most $max_seen unfinished in $samples samples");
cmp_ok($max_seen, '<=', $quota + 6, "alice never had much more than $quota unfinished (saw $max_seen)");
cmp_ok($max_seen, '>=', $quota / 2, 'the fork bomb did reach the quota');
like($node->safe_psql('postgres', q{
SELECT string_agg(DISTINCT o.error->>'message', '; ') FROM durable.operations o
  JOIN durable.executions e ON e.id = o.execution_id
 WHERE e.workflow = 'alice.fork' AND o.status = 'FAILED'}),
	qr/role "alice" has too many unfinished executions/, 'steps past the quota fail');

# the quota drops to 1: every fork step now fails, and the bomb dies out
$node->safe_psql('postgres', q{
ALTER SYSTEM SET durable.max_executions_per_role = 1;
SELECT pg_reload_conf();
});
ok($node->poll_query_until('postgres', q{
SELECT count(*) = 0 FROM durable.executions
 WHERE workflow = 'alice.fork' AND status IN ('PENDING', 'RUNNING', 'SUSPENDED')}),
	'the fork bomb dies out');
$total = $node->safe_psql('postgres',
	q{SELECT count(*) FROM durable.executions WHERE workflow = 'alice.fork'});
diag("fork bomb: $total executions in all");

# the count kept in shared memory is exact again: alice has none unfinished,
# so one start passes and the next does not
$node->safe_psql('postgres', q{
CREATE FUNCTION alice.idle(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  PERFORM durable_wait('long', interval '1 hour');
  RETURN input;
END $$;
ALTER FUNCTION alice.idle(jsonb) OWNER TO alice;
});
is($node->safe_psql('postgres', q{SET ROLE alice; SELECT durable_start('alice.idle', '{}') IS NOT NULL}),
	't', 'with the quota at 1, alice may start one execution');
my ($ret, $out, $err) = $node->psql('postgres',
	q{SET ROLE alice; SELECT durable_start('alice.idle', '{"second": true}')});
like($err, qr/role "alice" has too many unfinished executions/, 'and not a second one');
is($node->safe_psql('postgres', q{
SELECT count(*) FROM durable.executions WHERE workflow = 'alice.idle'}), '1', 'the refused start left nothing');

# another role is not held by alice's quota
is($node->safe_psql('postgres', q{SELECT durable_start('mapper', '{"items": []}') IS NOT NULL}),
	't', 'another role starts');

$node->stop;
my $log = slurp_file($node->logfile);
unlike($log, qr/WARNING|PANIC|server process .* terminated/, 'no warning or crash in the server log');
done_testing();

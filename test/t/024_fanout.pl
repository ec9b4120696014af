# Large fan-out with the background workers (issue 14, feature audit B1).
#
# A durable_map of 20,000 items with default options, whose per-item
# array (about 1.9 MB) cannot fit in durable.max_payload_size (1 MB),
# succeeds: its result holds the counts only, and durable_results lists
# the 20,000 items with their results, in item order, from outside and
# from a step of the workflow itself (a NULL execution there is its own).
# Before, the map was refused at the call (issue 13), and before that it
# failed with WF009 after every child had run.  The same map with
# "results": "array" is still refused at the call.  Purging the execution
# removes its 20,000 branch rows.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);

my $items = 20000;

my $node = PostgreSQL::Test::Cluster->new('fanout');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'durable'
durable.max_workers = 3
durable.database = 'postgres'
durable.max_children_in_progress = 500
});
$node->start;

$node->safe_psql('postgres', q{
CREATE EXTENSION durable;
-- a trivial child: three times its item
CREATE FUNCTION item(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN to_jsonb((input->>'item')::int * 3);
END $$;
-- the map, then a step that reads its outcomes (its own execution's)
CREATE FUNCTION fan(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  r jsonb;
BEGIN
  r := durable_map('m', input->'items', 'item', coalesce(input->'options', '{}'));
  RETURN r || durable_step('check',
    $q$SELECT jsonb_build_object('rows', count(*), 'sum', sum(result::text::bigint))
         FROM durable_results(NULL, 'm')$q$);
END $$;
});

# --- "results": "array" is still refused at the call -------------------------
my $refused = $node->safe_psql('postgres', qq{
SELECT durable_start('fan', jsonb_build_object('items',
         (SELECT jsonb_agg(g ORDER BY g) FROM generate_series(1, $items) g),
         'options', '{"results": "array"}'::jsonb), name => 'array-map');
});
ok($node->poll_query_until('postgres', qq{
SELECT status = 'FAILED' FROM durable.executions WHERE id = '$refused'}),
	'the map with "results": "array" ends');
is($node->safe_psql('postgres', qq{
SELECT error->>'sqlstate' || ' ' || (error->>'message') || ' '
       || (SELECT count(*) FROM durable.children WHERE parent_id = '$refused')
  FROM durable.executions WHERE id = '$refused'}),
	'WF009 result of map "m" cannot fit in durable.max_payload_size 0',
	'it is refused at the call (WF009), before any branch row exists');

# --- 20,000 items with default options succeed --------------------------------
my $t0 = time;
my $map = $node->safe_psql('postgres', qq{
SELECT durable_start('fan', jsonb_build_object('items',
         (SELECT jsonb_agg(g ORDER BY g) FROM generate_series(1, $items) g)), name => 'wide');
});
my $status = '';
my $deadline = time + 1200;
while (time < $deadline)
{
	$status = $node->safe_psql('postgres', qq{SELECT status FROM durable.executions WHERE id = '$map'});
	last if $status !~ /^(PENDING|RUNNING|SUSPENDED)$/;
	sleep 0.5;
}
my $map_time = time - $t0;
diag(sprintf('map of %d items, default options, cap 500, 3 workers: %.1f s', $items, $map_time));
is($status, 'SUCCEEDED', 'the 20,000-item map succeeds');
is($node->safe_psql('postgres', qq{
SELECT result - 'rows' - 'sum' FROM durable.executions WHERE id = '$map'}),
	qq({"total": $items, "failed": 0, "status": "SUCCEEDED", "succeeded": $items, "completion_reason": "ALL_COMPLETED"}),
	'its result is the summary, without the per-item array');
my $sum = 3 * $items * ($items + 1) / 2;
is($node->safe_psql('postgres', qq{
SELECT (result->>'rows') || ' ' || (result->>'sum') FROM durable.executions WHERE id = '$map'}),
	"$items $sum", 'a step of the workflow read all its outcomes with durable_results');
is($node->safe_psql('postgres', qq{
SELECT pg_column_size(result) < 1024 FROM durable.operations WHERE execution_id = '$map' AND name = 'm'}),
	't', 'the checkpoint of the map is small');
is($node->safe_psql('postgres', qq{
SELECT count(*) || ' ' || count(*) FILTER (WHERE status = 'SUCCEEDED')
       || ' ' || count(*) FILTER (WHERE result = to_jsonb((idx + 1) * 3))
       || ' ' || count(DISTINCT idx) || ' ' || min(idx) || ' ' || max(idx)
       || ' ' || bool_and(operation = 'm' AND run_no = 1 AND error IS NULL)
  FROM durable_results('wide')}),
	"$items $items $items $items 0 " . ($items - 1) . ' true',
	'durable_results lists 20,000 items, each with its own result');
is($node->safe_psql('postgres', q{
SELECT bool_and(idx = n - 1) FROM (SELECT idx, row_number() OVER () AS n FROM durable_results('wide', 'm')) s}),
	't', 'in item order');

# --- purge removes the branch rows with the execution -------------------------
$node->safe_psql('postgres', q{SELECT durable_purge('0 seconds')});
is($node->safe_psql('postgres', qq{
SELECT count(*) FROM durable.children WHERE parent_id IN ('$map', '$refused')}), '0',
	'durable_purge deletes the branch rows');

$node->stop;
done_testing();

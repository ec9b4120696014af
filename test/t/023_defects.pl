# Defects of issue 14 (part a) that need the workers: durable_http honours
# Retry-After with the default jitter (full).  The jittered backoff used to
# be drawn twice (Max() evaluates its argument twice), so a first draw above
# Retry-After could be replaced by a second one below it.  Here the backoff
# is drawn from [0, 2 s) and the mock asks for 1 s, so each retry had a 1 in
# 4 chance to come early; over 32 retries the old code fails this test but
# once in 10,000 runs.  The gaps are measured on the mock's side.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use DurableMock;

my $mock = DurableMock->new(name => 'mock_023');
my $url  = $mock->url;

my $node = PostgreSQL::Test::Cluster->new('defects');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'durable'
durable.max_workers = 2
durable.database = 'postgres'
durable.http_allow_addresses = '127.0.0.1'
durable.http_max_in_flight_per_role = 0
});
$node->start;

$node->safe_psql('postgres', q{
CREATE EXTENSION durable;
CREATE FUNCTION wf_get(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN durable_http('get', jsonb_build_object('url', input->>'url'), input->'options');
END $$;
});

ok($node->poll_query_until('postgres',
	"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'durable http'"),
	'the durable http worker is running');

# --- Retry-After: 1 over a backoff jittered in [0, 2 s) -----------------------
# 8 executions, each answered 503 + Retry-After: 1 four times, then 200
my $n = 8;
$node->safe_psql('postgres', qq{
SELECT count(durable_start('wf_get',
         jsonb_build_object('url', '$url/seq/ra-' || g || '/503,503,503,503,200?retry_after=1',
                            'options', '{"max_attempts": 5, "initial_delay": "2 s", "backoff_rate": 1}'::jsonb),
         name => 'ra-' || g))
  FROM generate_series(1, $n) g});
ok($node->poll_query_until('postgres',
	"SELECT count(*) = $n FROM durable.executions WHERE name LIKE 'ra-%' AND status = 'SUCCEEDED'"),
	"the $n executions retried on 503 succeeded");
is($node->safe_psql('postgres', q{
	SELECT string_agg(DISTINCT o.attempt::text, ',')
	  FROM durable.operations o JOIN durable.executions e ON e.id = o.execution_id
	 WHERE e.name LIKE 'ra-%' AND o.kind = 'http'}),
	'5', 'each succeeded on attempt 5');

my (@gaps, @early);
for my $i (1 .. $n)
{
	my $seen = $mock->requests("/seq/ra-$i/");
	is(scalar(@$seen), 5, "the mock saw 5 requests of ra-$i");
	for my $k (1 .. $#$seen)
	{
		my $gap = $seen->[$k]{time} - $seen->[ $k - 1 ]{time};
		push @gaps, $gap;
		push @early, sprintf('ra-%d #%d: %.3f s', $i, $k, $gap) if $gap < 1.0;
	}
}
is(scalar(@gaps), 4 * $n, 'every retry was measured');
is_deeply(\@early, [], 'no retry came sooner than Retry-After: 1 (gaps from '
	  . sprintf('%.3f', (sort { $a <=> $b } @gaps)[0]) . ' s)');

my $log = slurp_file($node->logfile);
unlike($log, qr/WARNING/, 'no warning in the server log');
unlike($log, qr/PANIC|TRAP:/, 'no PANIC or assertion failure');

$node->stop;
$mock->stop;
done_testing();

# The usage report of examples/ under a month-end burst: 200 reports asked
# at once, each writing its narrative through the LLM, stay under the
# provider's limits that the limiter "llm" of examples/usage_report.sql
# sets (set here to 3 calls at once and 20 a second, after a burst of 5):
# the mock LLM, which answers after 100 ms, never has more than 3 calls in
# progress, and never gets more than the token bucket allows in any
# second; every report is DONE, each narrative written once.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use File::Basename qw(dirname);
use Cwd qw(abs_path);
use Time::HiRes qw(time);
use DurableMock;

my $root = abs_path(dirname(__FILE__) . '/../..');
my $reports = 200;
my ($concurrency, $rate, $burst) = (3, 20, 5);

my $mock = DurableMock->new;
my $url  = $mock->url;

my $node = PostgreSQL::Test::Cluster->new('usage_burst');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'durable'
durable.max_workers = 2
durable.database = 'postgres'
durable.http_allow_addresses = '127.0.0.1'
});
$node->start;

sub query { return $node->safe_psql('postgres', $_[0]); }

query('CREATE EXTENSION durable');
query(slurp_file("$root/examples/usage_report.sql"));
query(qq{
SELECT durable_secret_set('llm_api_key', 'sk-test-llm-4242', ARRAY['127.0.0.1']);
UPDATE usage_report.settings SET value = '$url/v1/responses?delay=100' WHERE key = 'llm_url';
UPDATE usage_report.settings SET value = '' WHERE key = 'task_styles';
SELECT durable_limiter_set('llm', '{"max_concurrency": $concurrency, "rate": $rate,
                                    "period": "1 second", "burst": $burst}');
});
is(query(q{SELECT max_concurrency || ' ' || rate || ' ' || burst FROM durable.limiters WHERE name = 'llm'}),
	"$concurrency $rate $burst", 'the example made the limiter "llm"; the test tightened it');
ok($node->poll_query_until('postgres',
	"SELECT count(*) = 2 FROM pg_stat_activity WHERE backend_type = 'durable worker'"),
	'two durable workers are running');

# the burst: 200 reports of 200 tenants asked in one transaction
$mock->reset;
my $t0 = time;
query(qq{
SELECT count(usage_report.request_report(jsonb_build_object(
         'tenantId', 'tenant-' || i, 'period', '2025-03',
         'dimensions', '["endpoint"]'::jsonb, 'metrics', '["requests"]'::jsonb,
         'styles', '["technical"]'::jsonb)))
  FROM generate_series(1, $reports) i;
});

ok($node->poll_query_until('postgres',
	"SELECT count(*) FILTER (WHERE status = 'DONE') = $reports FROM usage_report.reports"),
	"all $reports reports are DONE");
my $took = time - $t0;
diag(sprintf('%d reports in %.1f s', $reports, $took));
is(query(q{SELECT count(*) FROM usage_report.narratives}), $reports, 'one narrative each');

my (undef, $stats) = $mock->request('GET', '/_stats');
is($stats->{max_in_progress}, $concurrency,
	"the LLM had exactly $concurrency calls in progress at the most");

# every call, when it reached the LLM
my @at = sort { $a <=> $b } map { $_->{time} } @{ $mock->requests('/v1/responses') };
is(scalar @at, $reports, 'each report called the LLM once');
my $worst = 0;
for my $i (0 .. $#at)
{
	my $n = grep { $_ >= $at[$i] && $_ < $at[$i] + 1.0 } @at[ $i .. $#at ];
	$worst = $n if $n > $worst;
}
diag("most calls in one second: $worst");
# the bucket holds $burst tokens and refills $rate a second: in any second
# at most $rate + $burst calls can begin (plus one for clock granularity)
cmp_ok($worst, '<=', $rate + $burst + 1, "no second saw more than the bucket allows");
my $spread = $at[-1] - $at[0];
my $floor = ($reports - $burst) / $rate;
cmp_ok($spread, '>=', $floor * 0.9,
	sprintf('the calls were spread over %.1f s, at least the %.1f s the rate needs', $spread, $floor));

is(query(q{SELECT count(*) FROM durable.limiter_holders WHERE limiter = 'llm'}), '0',
	'the limiter is free again');
my $log = slurp_file($node->logfile);
unlike($log, qr/WARNING|PANIC|TRAP/, 'no warning in the server log');

$node->stop;
$mock->stop;
done_testing();

# Operating with the background workers: a redriven execution is picked up
# by a worker at the redrive's commit and finishes, from its checkpoints,
# without running its succeeded steps again; a workflow changed without a
# patch fails its executions in flight with WF007 and, once patched, they
# are redriven and finish on their old path while new ones take the new
# one; the history of an execution a worker drives through thousands of
# operations (many drives) stays within durable.max_history_events; the
# tick purges past retention while workers run.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

my $node = PostgreSQL::Test::Cluster->new('operate');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'durable'
durable.max_workers = 2
durable.database = 'postgres'
durable.max_history_events = 200
});
$node->start;

$node->safe_psql('postgres', q{
CREATE EXTENSION durable;
CREATE TABLE flaky (ok boolean NOT NULL);
INSERT INTO flaky VALUES (false);
CREATE TABLE effects (k text);
CREATE FUNCTION wf_flaky(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  PERFORM durable_step('first', 'INSERT INTO effects VALUES ($1->>''k'') RETURNING 1', input);
  RETURN durable_step('fragile', 'SELECT 2 / ok::int FROM flaky', NULL,
                      '{"max_attempts": 2, "initial_delay": "10 ms"}');
END $$;
CREATE FUNCTION wf_ver(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  PERFORM durable_step('a', 'SELECT 1');
  PERFORM durable_wait_for_event('go', 'go');
  RETURN '"old"';
END $$;
CREATE FUNCTION wf_long(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  FOR i IN 1..(input->>'n')::int LOOP
    PERFORM durable_step('s' || i, 'SELECT $1', to_jsonb(i));
    IF i % 100 = 0 THEN
      PERFORM durable_wait('w' || i, interval '1 millisecond');
    END IF;
  END LOOP;
  RETURN '"done"';
END $$;
});

# --- redrive: 20 executions fail, the cause is fixed, they are redriven
$node->safe_psql('postgres',
	"SELECT durable_start('wf_flaky', jsonb_build_object('k', 'e' || i), 'flaky-' || i)
	   FROM generate_series(1, 20) i");
ok($node->poll_query_until('postgres',
	"SELECT count(*) = 20 FROM durable.executions WHERE name LIKE 'flaky-%' AND status = 'FAILED'"),
	'20 executions fail on their second step');
$node->safe_psql('postgres', 'UPDATE flaky SET ok = true');
my $t0 = time;
$node->safe_psql('postgres',
	"SELECT durable_redrive(name) FROM durable.executions WHERE name LIKE 'flaky-%'");
ok($node->poll_query_until('postgres',
	"SELECT count(*) = 20 FROM durable.executions WHERE name LIKE 'flaky-%' AND status = 'SUCCEEDED'"),
	'redriven, all 20 succeed');
my $took = time - $t0;
ok($took < 5, "the workers took them up at the redrive's commit ($took s)");
is($node->safe_psql('postgres', 'SELECT count(*), count(DISTINCT k) FROM effects'), '20|20',
	'the step that had succeeded did not run again');
is($node->safe_psql('postgres',
	"SELECT count(*) FROM durable.executions WHERE name LIKE 'flaky-%' AND redrive_count = 1
	   AND result = '2'"), '20', 'each counts one redrive and has the result');

# --- a deploy without a patch, then with one
$node->safe_psql('postgres',
	"SELECT durable_start('wf_ver', '{}', 'ver-' || i) FROM generate_series(1, 5) i");
ok($node->poll_query_until('postgres',
	"SELECT count(*) = 5 FROM durable.executions WHERE name LIKE 'ver-%' AND status = 'SUSPENDED'"),
	'five executions wait for their event');
$node->safe_psql('postgres', q{
CREATE OR REPLACE FUNCTION wf_ver(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  PERFORM durable_step('a', 'SELECT 1');
  PERFORM durable_step('new', 'SELECT 2');
  PERFORM durable_wait_for_event('go', 'go');
  RETURN '"new"';
END $$;
SELECT durable_send_event('ver-' || i, 'go') FROM generate_series(1, 5) i;
});
ok($node->poll_query_until('postgres',
	"SELECT count(*) = 5 FROM durable.executions WHERE name LIKE 'ver-%' AND status = 'FAILED'
	   AND error->>'sqlstate' = 'WF007'"),
	'the unpatched change fails them with WF007');
$node->safe_psql('postgres', q{
CREATE OR REPLACE FUNCTION wf_ver(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  patched boolean;
BEGIN
  PERFORM durable_step('a', 'SELECT 1');
  patched := durable_patched('new-step');
  IF patched THEN
    PERFORM durable_step('new', 'SELECT 2');
  END IF;
  PERFORM durable_wait_for_event('go', 'go');
  RETURN to_jsonb(CASE WHEN patched THEN 'new' ELSE 'old' END);
END $$;
SELECT durable_redrive('ver-' || i) FROM generate_series(1, 5) i;
SELECT durable_start('wf_ver', '{}', 'ver-fresh');
SELECT durable_send_event('ver-fresh', 'go');
});
ok($node->poll_query_until('postgres',
	"SELECT count(*) = 6 FROM durable.executions WHERE name LIKE 'ver-%' AND status = 'SUCCEEDED'"),
	'patched and redriven, they finish, and so does a new one');
is($node->safe_psql('postgres',
	"SELECT string_agg(result #>> '{}', ',' ORDER BY name) FROM durable.executions WHERE name LIKE 'ver-%'"),
	'old,old,old,old,old,new', 'the old ones on the old path, the new one on the new path');

# --- the history stays bounded through 2,000 operations and 20 drives
$node->safe_psql('postgres', q{SELECT durable_start('wf_long', '{"n": 2000}', 'long')});
ok($node->poll_query_until('postgres',
	"SELECT status = 'SUCCEEDED' FROM durable.executions WHERE name = 'long'"),
	'2,000 steps with 20 waits finish');
my ($events, $summarized, $first) = split /\|/, $node->safe_psql('postgres',
	"SELECT count(*), sum((details->>'count')::int) FILTER (WHERE event = 'history_summarized'),
	        (array_agg(event ORDER BY event_id))[1]
	   FROM durable_history('long')");
ok($events <= 200, "history kept within the limit ($events events)");
is($first, 'history_summarized', 'a summary comes first');
# a step's checkpoint is one event; each wait adds a few
ok($events - 1 + $summarized >= 2020,
	"the summary counts what it replaced ($summarized events, " . ($events - 1) . ' kept)');

# --- the tick purges past retention while the workers run
$node->safe_psql('postgres', q{
SELECT durable_start('wf_flaky', '{"k": "r"}', 'short-lived', '{"retention": "1 second"}');
});
ok($node->poll_query_until('postgres',
	"SELECT status = 'SUCCEEDED' FROM durable.executions WHERE name = 'short-lived'"),
	'a short-lived execution finishes');
{
	# the tick's clock a minute ahead: CALL cannot follow a SET in one query
	local $ENV{PGOPTIONS} = '-c durable.clock_offset=1min';
	$node->safe_psql('postgres', 'CALL durable_tick()');
}
is($node->safe_psql('postgres',
	"SELECT count(*) FROM durable.executions WHERE name = 'short-lived'"), '0',
	'the tick purges it once its retention has passed');
is($node->safe_psql('postgres',
	"SELECT count(*) FROM durable.executions WHERE name LIKE 'flaky-%'"), '20',
	'and keeps the others (30 days by default)');

$node->stop;
my $log = slurp_file($node->logfile);
unlike($log, qr/WARNING/, 'no warning in the log');
unlike($log, qr/PANIC|TRAP:/, 'no PANIC or assertion failure');
done_testing();

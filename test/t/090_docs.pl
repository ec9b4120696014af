# The documentation is a tested contract: every ```sql block of README.md
# and of docs/*.md runs here, file by file and in order, on one cluster
# with the background workers, pg_cron and the mock HTTP server, each block
# in a psql session of its own (psql -X -q -v ON_ERROR_STOP=1) in database
# app as the bootstrap superuser.  A block that fails fails the test.
#
# Marks, an HTML comment on the line(s) before a block (invisible when the
# Markdown is rendered):
#
#   <!-- doctest: skip <why> -->    the block is not run (a fragment, a
#                                   placeholder); the reason is required
#   <!-- doctest: error -->         the block must fail (it shows an error)
#
# Output: a ```text block that follows a sql block with nothing but blank
# lines in between is what that block prints on standard output (psql's
# aligned format, command tags quieted): it is compared line by line, with
# trailing blanks ignored.  In it, "…" stands for any text within a line
# (ids, timestamps, durations), and a run of spaces for any run of spaces
# (column widths follow the values).
#
# Links: every link from one of these files to a heading (#anchor, or
# file.md#anchor) must point at a heading that exists, with GitHub's rule
# for anchors (lower case, punctuation dropped, spaces as hyphens).
#
# The blocks see in the setting mock.url the URL of the mock HTTP server
# (test/mock/mock_http.py), which durable.http_allow_addresses lets them
# call.
use strict;
use warnings;
use Cwd qw(abs_path);
use File::Basename qw(dirname);
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use DurableMock;

my $root = abs_path(dirname(__FILE__) . '/../..');
my @files = ("$root/README.md", sort glob("$root/docs/*.md"));

# ------------------------------------------------------------- parsing ---

# The fenced blocks of a Markdown file: {info, line, text, mark, follows}.
# follows: only blank lines stand between this block and the previous one.
sub blocks_of
{
	my ($path) = @_;
	open(my $fh, '<:encoding(UTF-8)', $path) or die "cannot read $path: $!";
	my @lines = <$fh>;
	close $fh;

	my (@blocks, $fence, $info, $start, @body, $mark);
	my $since_close = -1;    # non-blank lines since the last block closed
	for my $i (0 .. $#lines)
	{
		my $l = $lines[$i];
		if (defined $fence)
		{
			if ($l =~ /^\Q$fence\E\s*$/)
			{
				push @blocks, {
					info    => $info,
					line    => $start,
					text    => join('', @body),
					mark    => $mark,
					follows => $since_close == 0,
				};
				undef $fence;
				undef $mark;
				$since_close = 0;
			}
			else
			{
				push @body, $l;
			}
			next;
		}
		if ($l =~ /^<!--\s*doctest:\s*(.*?)\s*-->\s*$/)
		{
			$mark = $1;
			next;
		}
		if ($l =~ /^(`{3,})\s*([^`\s]*)/)
		{
			($fence, $info, $start, @body) = ($1, $2, $i + 1);
			next;
		}
		next unless $l =~ /\S/;
		$since_close++ if $since_close >= 0;
		undef $mark;    # a mark belongs to the block right after it
	}
	die "$path: a code block opened on line $start is never closed"
	  if defined $fence;
	return @blocks;
}

# A regular expression of a ```text block: "…" is any text in a line, a run
# of spaces any run of spaces, trailing blanks and blank lines ignored.
sub output_pattern
{
	my ($text) = @_;
	my @re;
	for my $line (split /\n/, $text)
	{
		$line =~ s/\s+$//;
		my $re = join('[^\n]*?',
			map { join(' +', map { quotemeta } split(/ +/, $_, -1)) }
			  split(/…/, $line, -1));
		push @re, $re;
	}
	pop @re while @re && $re[-1] eq '';
	return '\A' . join('\n', @re) . '\z';
}

sub normalize_output
{
	my ($out) = @_;
	my @lines = map { s/\s+$//r } split /\n/, $out;
	pop @lines while @lines && $lines[-1] eq '';
	return join("\n", @lines);
}

# ---------------------------------------------------------------- links ---

sub anchors_of
{
	my ($path) = @_;
	open(my $fh, '<:encoding(UTF-8)', $path) or die "cannot read $path: $!";
	my (%seen, $fence);
	while (my $l = <$fh>)
	{
		if ($l =~ /^(`{3,})/) { $fence = defined $fence ? undef : $1; next; }
		next if defined $fence;
		next unless $l =~ /^#{1,6} (.*?)\s*$/;
		my $a = lc $1;
		$a =~ s/[^\w\- ]//g;
		$a =~ s/ /-/g;
		my $n = $seen{$a}++;
		$seen{"$a-$n"} = 1 if $n;
	}
	close $fh;
	return \%seen;
}

{
	my %anchors = map { ($_ => anchors_of($_)) } @files;
	for my $file (@files)
	{
		my $name = substr($file, length($root) + 1);
		open(my $fh, '<:encoding(UTF-8)', $file) or die;
		my $text = do { local $/; <$fh> };
		close $fh;
		my @bad;
		while ($text =~ /\]\(([^)\s#]*)#([^)\s]+)\)/g)
		{
			my ($target, $anchor) = ($1, $2);
			my $path = $target eq '' ? $file : abs_path(dirname($file) . "/$target");
			push @bad, "$target#$anchor"
			  unless defined $path && $anchors{$path} && $anchors{$path}{$anchor};
		}
		is(join(', ', @bad), '', "every link of $name to a heading finds it");
	}
}

# ------------------------------------------------------------- cluster ---

my $mock = DurableMock->new(name => 'docs');
my $node = PostgreSQL::Test::Cluster->new('docs');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_cron,durable'
durable.database = 'app'
durable.max_workers = 2
cron.database_name = 'app'
durable.http_allow_addresses = '127.0.0.1'
mock.url = '@{[ $mock->url ]}'
});
$node->start;
$node->safe_psql('postgres', 'CREATE DATABASE app');
# pg_cron first, as docs/operations.md's setup says, so that CREATE
# EXTENSION durable (the README's Quick start) schedules the tick
$node->safe_psql('app', 'CREATE EXTENSION pg_cron');
ok($node->poll_query_until('app',
	"SELECT count(*) = 2 FROM pg_stat_activity WHERE backend_type = 'durable worker'"),
	'the workers serve database app');

sub run_block
{
	my ($sql) = @_;
	my ($out, $err) = ('', '');
	my @cmd = ('psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-P', 'pager=off',
		'-d', $node->connstr('app'));
	my $ok = eval {
		IPC::Run::run(\@cmd, '<', \$sql, '>', \$out, '2>', \$err,
			IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
	};
	$err .= $@ if $@;
	return ($ok, $out, $err);
}

# --------------------------------------------------------------- blocks ---

for my $file (@files)
{
	my $name = substr($file, length($root) + 1);
	my @blocks = blocks_of($file);
	for my $n (0 .. $#blocks)
	{
		my $b = $blocks[$n];
		next unless $b->{info} eq 'sql';
		my $where = "$name:$b->{line}";
		my $mark = $b->{mark} // '';
		if ($mark =~ /^skip\b\s*(.*)$/)
		{
			ok(length($1) > 0, "$where is marked skip with a reason")
			  or diag("say why: <!-- doctest: skip <why> -->");
			next;
		}
		die "$where: unknown doctest mark \"$mark\"" if $mark ne '' && $mark ne 'error';

		my ($ok, $out, $err) = run_block($b->{text});
		if ($mark eq 'error')
		{
			ok(!$ok, "$where fails as shown") or diag($out);
		}
		else
		{
			ok($ok, "$where runs") or diag($err);
		}

		my $next = $blocks[ $n + 1 ];
		if (defined $next && $next->{info} eq 'text' && $next->{follows})
		{
			my $got = normalize_output($out);
			my $pattern = output_pattern($next->{text});
			ok($got =~ /$pattern/, "$where prints what $name:$next->{line} shows")
			  or diag("printed:\n$got\n\nshown:\n$next->{text}");
		}
	}
}

$node->stop;
$mock->stop;
done_testing();

# test/perl/DurableMock.pm - the mock HTTP server (test/mock/mock_http.py)
# for the TAP tests.
#
#   use DurableMock;
#   my $mock = DurableMock->new;            # started and listening
#   my $url  = $mock->url;                  # "http://127.0.0.1:PORT"
#   $node->append_conf('postgresql.conf', "mock.url = '$url'");
#   ...
#   my $reqs = $mock->requests('/seq/abc'); # arrayref of hashes, in arrival order
#   $mock->wait_requests('/delay/', 100);   # polls until >= 100 are recorded
#   $mock->reset;                           # forget records and /seq counters
#   $mock->stop;                            # also done by DESTROY and END
#
# Each recorded request is a hash {n, time, method, path, query, args,
# headers (lowercased names), body} (see the docstring of mock_http.py).
# The mock listens on 127.0.0.1 only, on a port it picks itself and writes
# to a port file; new() waits (up to `timeout` seconds, default 60) until
# that file exists and the port accepts a connection, and dies otherwise.
# Its request log goes to the TAP log directory (tmp_check/log/mock_*.log)
# when PostgreSQL::Test::Utils is loaded, else to its temp directory.
#
# Options of new(): name (used in file names, default "mock"), timeout,
# python (default $ENV{PYTHON} or "python3").
package DurableMock;

use strict;
use warnings;

use Carp;
use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Temp qw(tempdir);
use HTTP::Tiny;
use IO::Socket::INET;
use JSON::PP;
use POSIX ();
use Scalar::Util qw(weaken);
use Time::HiRes qw(time usleep);

our $SCRIPT = abs_path(dirname(__FILE__) . '/../mock/mock_http.py');

my %running;    # "pid" => mock object, for END

sub new
{
	my ($class, %opts) = @_;
	my $name    = $opts{name}    // 'mock';
	my $timeout = $opts{timeout} // 60;
	my $python  = $opts{python}  // $ENV{PYTHON} // 'python3';

	croak "DurableMock: $SCRIPT not found" unless defined $SCRIPT && -f $SCRIPT;
	croak "DurableMock: bad name '$name'" unless $name =~ /^[A-Za-z0-9_.-]+$/;

	my $dir = tempdir("durable_mock_XXXXXX", TMPDIR => 1, CLEANUP => 1);
	my $logdir = $dir;
	no warnings 'once';
	if (defined $PostgreSQL::Test::Utils::log_path
		&& -d $PostgreSQL::Test::Utils::log_path)
	{
		$logdir = $PostgreSQL::Test::Utils::log_path;
	}
	my $self = bless {
		name      => $name,
		dir       => $dir,
		port_file => "$dir/port",
		log       => "$logdir/${name}_$$.log",
		out       => "$dir/output",
		owner     => $$,
		pid       => undef,
		port      => undef,
	}, $class;

	my $pid = fork();
	croak "DurableMock: fork failed: $!" unless defined $pid;
	if ($pid == 0)
	{
		# the child: never return into the test (no END blocks, no Test::More)
		open(STDIN, '<', '/dev/null');
		open(STDOUT, '>', $self->{out});
		open(STDERR, '>&', \*STDOUT);
		exec($python, $SCRIPT, '--port', '0',
			'--port-file', $self->{port_file}, '--log', $self->{log})
		  or print STDERR "exec $python failed: $!\n";
		POSIX::_exit(127);
	}
	$self->{pid} = $pid;
	$running{$pid} = $self;
	weaken($running{$pid});    # DESTROY still stops a mock that goes out of scope

	my $deadline = time() + $timeout;
	while (1)
	{
		if (-s $self->{port_file})
		{
			open(my $fh, '<', $self->{port_file})
			  or croak "DurableMock: cannot read $self->{port_file}: $!";
			my $line = <$fh>;
			close $fh;
			if (defined $line && $line =~ /^(\d+)\s*$/)
			{
				my $sock = IO::Socket::INET->new(
					PeerAddr => '127.0.0.1',
					PeerPort => $1,
					Proto    => 'tcp',
					Timeout  => 2);
				if ($sock)
				{
					close $sock;
					$self->{port} = $1;
					last;
				}
			}
		}
		if (waitpid($pid, POSIX::WNOHANG()) == $pid)
		{
			my $status = $?;
			delete $running{$pid};
			$self->{pid} = undef;
			croak "DurableMock: the mock exited (status $status) before listening: "
			  . $self->_output;
		}
		if (time() > $deadline)
		{
			$self->stop;
			croak "DurableMock: the mock did not listen within $timeout s: "
			  . $self->_output;
		}
		usleep(50_000);
	}
	$self->{http} = HTTP::Tiny->new(
		timeout    => 60,
		keep_alive => 0,
		proxy      => undef,
		http_proxy => undef,
		no_proxy   => ['127.0.0.1']);
	return $self;
}

sub _output
{
	my ($self) = @_;
	open(my $fh, '<', $self->{out}) or return '(no output)';
	local $/;
	my $text = <$fh>;
	close $fh;
	return (defined $text && $text ne '') ? $text : '(no output)';
}

# "http://127.0.0.1:PORT", without a trailing slash
sub url { my ($self) = @_; return "http://127.0.0.1:$self->{port}"; }

sub port    { my ($self) = @_; return $self->{port}; }
sub pid     { my ($self) = @_; return $self->{pid}; }
sub logfile { my ($self) = @_; return $self->{log}; }

# request(method, path_and_query[, body]) => (status, decoded JSON or text)
sub request
{
	my ($self, $method, $path, $body) = @_;
	croak "DurableMock: the mock is not running" unless $self->{pid};
	my %opts;
	$opts{content} = $body if defined $body;
	my $res = $self->{http}->request($method, $self->url . $path, \%opts);
	# HTTP::Tiny reports its own failures (connection refused, timeout) as 599
	croak "DurableMock: $method $path: $res->{status} $res->{reason}: $res->{content}"
	  if $res->{status} == 599;
	my $content = $res->{content};
	my $type    = $res->{headers}{'content-type'} // '';
	if ($type =~ m{^application/json} && defined $content && $content ne '')
	{
		$content = JSON::PP->new->utf8->decode($content);
	}
	return ($res->{status}, $content);
}

# The recorded requests whose path starts with $prefix (all without one), in
# arrival order: an arrayref of hashes.
sub requests
{
	my ($self, $prefix) = @_;
	$prefix //= '';
	$prefix =~ s/([^A-Za-z0-9\-._~\/])/sprintf('%%%02X', ord($1))/ge;
	my ($status, $list) = $self->request('GET', "/_requests?prefix=$prefix");
	croak "DurableMock: /_requests answered $status" unless $status == 200;
	return $list;
}

# Polls until at least $n requests under $prefix are recorded; returns the
# list then, or undef after $timeout seconds (default: the TAP default).
sub wait_requests
{
	my ($self, $prefix, $n, $timeout) = @_;
	no warnings 'once';
	$timeout //= $PostgreSQL::Test::Utils::timeout_default // 180;
	my $deadline = time() + $timeout;
	while (1)
	{
		my $list = $self->requests($prefix);
		return $list if @$list >= $n;
		return undef if time() > $deadline;
		usleep(100_000);
	}
}

# Forgets the recorded requests, the /seq counters and the /v1/responses
# failure counters.
sub reset
{
	my ($self) = @_;
	my ($status) = $self->request('POST', '/_reset');
	croak "DurableMock: /_reset answered $status" unless $status == 200;
	return;
}

# Stops the mock (SIGTERM, then SIGKILL after 10 s); idempotent.
sub stop
{
	my ($self) = @_;
	my $pid = $self->{pid};
	return unless $pid && $self->{owner} == $$;
	kill 'TERM', $pid;
	my $deadline = time() + 10;
	while (waitpid($pid, POSIX::WNOHANG()) == 0)
	{
		if (time() > $deadline)
		{
			kill 'KILL', $pid;
			waitpid($pid, 0);
			last;
		}
		usleep(20_000);
	}
	delete $running{$pid};
	$self->{pid} = undef;
	return;
}

sub DESTROY
{
	my ($self) = @_;
	local ($?, $!, $@);
	$self->stop;
}

END
{
	local $?;
	$_->stop for grep { defined } values %running;
}

1;

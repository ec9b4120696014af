#!/usr/bin/perl
#
# layers.pl
#	  Keeps the shape of src/: fails when a file refers to a function or
#	  variable of a layer above its own, when two layers of the same rank
#	  refer to each other, when files refer to each other in a cycle, when
#	  a file includes the header of a layer above, or when a C file is not
#	  named in src/README.md.  Built from the code itself: a definition is
#	  a name at column 0 (PostgreSQL style), a reference is that name used
#	  in another file, outside comments and strings.
#
#	  perl test/layers.pl [--graph] [srcdir]
#
#	  --graph prints every cross-file reference as "file fn -> file name".
#
use strict;
use warnings;

my $graph = 0;
if (@ARGV && $ARGV[0] eq '--graph')
{
	$graph = 1;
	shift @ARGV;
}
my $src = shift(@ARGV) // 'src';

# the layers, bottom up; a layer may use the layers of lower rank only
my %rank = (
	util => 0,
	store => 1,
	net => 2,
	core => 2,
	ops => 3,
	api => 4,
	bgw => 4,
	'.' => 5,    # src/durable.c: _PG_init
);

my @files = sort(glob("$src/*.c"), glob("$src/*/*.c"));
die "layers.pl: no C files under $src\n" unless @files;

sub layer_of
{
	my ($f) = @_;
	return $1 if $f =~ m{^\Q$src\E/([^/]+)/[^/]+$};
	return '.';
}

my (%def, %text, %static, %raw, @fail);

for my $f (@files)
{
	my $l = layer_of($f);
	push @fail, "$f: folder \"$l\" is not a layer" unless exists $rank{$l};
	open my $fh, '<', $f or die "$f: $!\n";
	local $/;
	my $t = <$fh>;
	close $fh;

	# includes of a header of a layer above
	for my $inc ($t =~ /^#include\s+"([^"]+)"/mg)
	{
		next unless $inc =~ m{^([^/]+)/};
		my $hl = $1;
		next unless exists $rank{$hl};
		next if $hl eq $l;
		push @fail, "$f includes $inc: a header of layer $hl, not below $l"
		  if $rank{$hl} >= $rank{$l};
	}

	$raw{$f} = $t;
	$t =~ s{/\*.*?\*/}{ }gs;
	$t =~ s{//[^\n]*}{}g;
	$t =~ s{"(?:\\.|[^"\\\n])*"}{""}g;
	$t =~ s{'(?:\\.|[^'\\])'}{''}g;
	$text{$f} = $t;

	my @lines = split /\n/, $t;
	for my $i (1 .. $#lines)
	{
		my $line = $lines[$i];
		if ($line =~ /^([A-Za-z_]\w*)\(/)
		{
			my $name = $1;
			next if $name =~ /^(PG_FUNCTION_INFO_V1|PG_MODULE_MAGIC)$/;
			next if $lines[ $i - 1 ] =~ /^#/;
			if ($lines[ $i - 1 ] =~ /\bstatic\b/) { $static{$f}{$name} = 1; }
			else { push @fail, "$name is defined in $def{$name} and $f" if $def{$name}; $def{$name} = $f; }
		}
		elsif ($line =~ /^(?!static|typedef|extern|#|\s|\})[A-Za-z_][\w \t\*]*?\b([A-Za-z_]\w*)\s*(?:=|;|\[)/
			&& $line !~ /\(/)
		{
			$def{$1} = $f;
		}
	}
}

# macros, so that a call through one counts as a call of what it expands
# to (store/ files call their runner through a run() macro)
my %macro;
for my $h (sort(glob("$src/*.c"), glob("$src/*/*.c"), glob("$src/*/*.h")))
{
	open my $fh, '<', $h or die "$h: $!\n";
	local $/;
	my $t = <$fh>;
	close $fh;
	$t =~ s/\\\n/ /g;
	while ($t =~ /^#define\s+([A-Za-z_]\w*)\(([^\n]*)$/mg)
	{
		my ($name, $body) = ($1, $2);
		$macro{$name} = [ $body =~ /\b([A-Za-z_]\w*)\b/g ];
	}
}

my %edge;    # "$from $to" => first example
for my $f (@files)
{
	my $cur = '(file scope)';
	for my $line (split /\n/, $text{$f})
	{
		$cur = $1 if $line =~ /^([A-Za-z_]\w*)\(/;
		my %seen;
		my @ids = $line =~ /\b([A-Za-z_]\w*)\b/g;
		push @ids, @{ $macro{$_} } for grep { $macro{$_} } @ids;
		for my $id (@ids)
		{
			next if $seen{$id}++;
			my $to = $def{$id};
			next unless defined $to;
			next if $to eq $f || $static{$f}{$id};
			print "$f $cur -> $to $id\n" if $graph;
			$edge{"$f $to"} //= "$cur -> $id";
		}
	}
}

# a function that no other file uses is static, unless SQL or a
# background worker calls it by name
my %used_elsewhere;
for my $f (@files)
{
	my @ids = $text{$f} =~ /\b([A-Za-z_]\w*)\b/g;
	push @ids, @{ $macro{$_} } for grep { $macro{$_} } @ids;
	for my $id (@ids)
	{
		$used_elsewhere{$id} = 1 if defined $def{$id} && $def{$id} ne $f;
	}
}
for my $name (sort keys %def)
{
	my $f = $def{$name};
	next if $used_elsewhere{$name};
	next if $name eq '_PG_init';
	next if $raw{$f} =~ /PG_FUNCTION_INFO_V1\(\Q$name\E\)/;
	next if $raw{$f} =~ /PGDLLEXPORT[^;]*\b\Q$name\E\s*\(/;
	next unless $text{$f} =~ /^\Q$name\E\(/m;    # functions only
	push @fail, "$name is used in $f only: make it static";
}

# references against the rule
for my $e (sort keys %edge)
{
	my ($from, $to) = split / /, $e;
	my ($lf, $lt) = (layer_of($from), layer_of($to));
	next if $lf eq $lt;
	next unless exists $rank{$lf} && exists $rank{$lt};
	push @fail, "$from refers up or sideways to $to ($edge{$e}): $lf may not use $lt"
	  if $rank{$lf} <= $rank{$lt};
}

# cycles between files (Tarjan's strongly connected components)
my %adj;
for my $e (keys %edge)
{
	my ($from, $to) = split / /, $e;
	push @{ $adj{$from} }, $to;
}
my ($index, @stack, %idx, %low, %on) = (0);
my $strong;
$strong = sub {
	my ($v) = @_;
	$idx{$v} = $low{$v} = $index++;
	push @stack, $v;
	$on{$v} = 1;
	for my $w (@{ $adj{$v} || [] })
	{
		if (!exists $idx{$w}) { $strong->($w); $low{$v} = $low{$w} if $low{$w} < $low{$v}; }
		elsif ($on{$w}) { $low{$v} = $idx{$w} if $idx{$w} < $low{$v}; }
	}
	if ($low{$v} == $idx{$v})
	{
		my @c;
		my $w;
		do { $w = pop @stack; $on{$w} = 0; push @c, $w; } while ($w ne $v);
		if (@c > 1)
		{
			my %in = map { $_ => 1 } @c;
			my @why = map { "$_ ($edge{$_})" }
			  grep { my ($a, $b) = split / /; $in{$a} && $in{$b} } sort keys %edge;
			push @fail, "files refer to each other in a cycle: " . join(', ', sort @c)
			  . "\n    " . join("\n    ", @why);
		}
	}
};
$strong->($_) for grep { !exists $idx{$_} } @files;

# every C file has its line in src/README.md
if (open my $rm, '<', "$src/README.md")
{
	local $/;
	my $readme = <$rm>;
	for my $f (@files)
	{
		(my $rel = $f) =~ s{^\Q$src\E/}{};
		push @fail, "$f is not named in $src/README.md" unless $readme =~ /\Q$rel\E/;
	}
}
else
{
	push @fail, "$src/README.md is missing";
}

exit 0 if $graph;
if (@fail)
{
	print STDERR "layers: $_\n" for @fail;
	printf STDERR "layers: %d problem%s\n", scalar @fail, @fail == 1 ? '' : 's';
	exit 1;
}
printf "layers: %d files in %d layers, %d cross-file references, all pointing down\n",
  scalar @files, scalar(keys %{ { map { layer_of($_) => 1 } @files } }), scalar keys %edge;
exit 0;

#!/usr/bin/perl
# check_return_sizes.pl OLD.dump NEW.dump: fails when a struct that a C API function returns BY VALUE changed
# size. abi-compliance-checker rates an appended field as a low-severity change (right for structs passed by
# pointer with struct_size), but a by-value return is laid out by the caller: an old caller reserves the old
# size (or, at 16 bytes and below on x86-64 and aarch64, expects it in registers) and the new library writes
# the new size, past the end of the caller's buffer.
use strict;
use warnings;

sub load {
  my ($path) = @_;
  our $VAR1;
  local $VAR1;
  my $r = do($path =~ m{^/} ? $path : "./$path");
  die "$path: $@\n" if $@;
  die "$path: not an ABI dump\n" unless ref $r eq 'HASH';
  return $r;
}

# Follows typedefs and qualifiers to the underlying type.
sub resolve {
  my ($abi, $tid) = @_;
  for (my $i = 0; $i < 16 && defined $tid; ++$i) {
    my $t = $abi->{TypeInfo}{$tid} or return undef;
    return $t unless $t->{Type} =~ /^(Typedef|Const|Volatile)$/;
    $tid = $t->{BaseType};
  }
  return undef;
}

sub returned_structs {
  my ($abi) = @_;
  my %out;
  for my $s (values %{ $abi->{SymbolInfo} }) {
    next unless defined $s->{Return} && ($s->{ShortName} // '') =~ /^ondi_/;
    my $t = resolve($abi, $s->{Return}) or next;
    next unless $t->{Type} =~ /^(Struct|Union)$/;
    $out{ $s->{ShortName} } = [ $t->{Name}, $t->{Size} ];
  }
  return \%out;
}

my ($old, $new) = map { returned_structs(load($_)) } @ARGV[0, 1];
my $bad = 0;
for my $fn (sort keys %$old) {
  next unless $new->{$fn};
  my ($name, $size) = @{ $old->{$fn} };
  my $now = $new->{$fn}[1];
  if ($size != $now) {
    print "ABI break: $fn returns $name by value and its size changed from $size to $now bytes\n";
    $bad = 1;
  }
}
exit $bad;

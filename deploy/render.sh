#!/usr/bin/env bash
# Render the kube-dns-ts manifests for one cluster, like the legacy
# `deploy.sh 10.0.0.0/24 cluster.local`:
#
#   deploy/render.sh [options] SERVICE_CIDR|DNS_IP [DOMAIN]
#
# SERVICE_CIDR  the API server's --service-cluster-ip-range (IPv4); the DNS server is its .10
#               (10.0.0.0/24 -> 10.0.0.10), the legacy convention.
# DNS_IP        or the DNS server address itself (IPv4 or IPv6), used as it is.
# DOMAIN        the cluster domain (default: $DNS_DOMAIN or cluster.local); a trailing dot is dropped.
#
# Options:
#   --legacy            render skydns-rc.yaml + skydns-svc.yaml (the v1.2 ReplicationController)
#                       instead of kube-dns.yaml (Deployment, RBAC, PodDisruptionBudget, Service)
#   --scale-out         render kube-dns-scale-out.yaml: a shared 3-member etcd StatefulSet, kube2sky
#                       with --leader-elect, skydns Deployment with an autoscaler (docs/deploy.md)
#   --etcd-ips A,B,C    the three etcd members' fixed clusterIPs for --scale-out (default: the .11,
#                       .12 and .13 of SERVICE_CIDR; required when a DNS_IP is given instead)
#   --all               render every manifests/*.yaml.in (meant for -o)
#   -o, --out DIR       write DIR/<name>.yaml instead of printing to stdout
#   -r, --replicas N    number of DNS pods (default: $DNS_REPLICAS or 1)
#   -i, --image IMAGE   image instead of kube-dns-ts:0.1.0 (e.g. registry.example.com/kube-dns-ts:0.1.0)
#   -h, --help
#
# It substitutes __PILLAR__DNS__DOMAIN__, __PILLAR__DNS__SERVER__ and __PILLAR__DNS__REPLICAS__ in
# manifests/*.yaml.in (and __PILLAR__ETCD__0__..2__ in the scale-out form). The same values must reach every kubelet: --cluster-dns=<DNS IP>
# --cluster-domain=<DOMAIN> (printed on stderr). Bad input: a message and exit status 2.
set -euo pipefail

prog=render.sh
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
templates="$root/manifests"
default_image=kube-dns-ts:0.1.0

usage() {
  cat <<EOF
usage: deploy/render.sh [--legacy|--scale-out|--all] [--etcd-ips A,B,C] [-o DIR] [-r REPLICAS] [-i IMAGE] SERVICE_CIDR|DNS_IP [DOMAIN]

  deploy/render.sh 10.0.0.0/24 cluster.local | kubectl apply -f -
  deploy/render.sh --legacy 10.96.0.0/12 cluster.local | kubectl apply -f -
  deploy/render.sh --scale-out -r 3 10.96.0.0/12 cluster.local | kubectl apply -f -
  deploy/render.sh --all -o out/ -r 2 10.0.0.10 corp.example
EOF
}

die() {
  echo "$prog: $*" >&2
  usage >&2
  exit 2
}

# --- arguments -------------------------------------------------------------------
select=current
etcd_ips=
outdir=
replicas=${DNS_REPLICAS:-1}
image=$default_image
positional=()
while [ $# -gt 0 ]; do
  case $1 in
    -h|--help) usage; exit 0 ;;
    --legacy) select=legacy ;;
    --scale-out) select=scale-out ;;
    --all) select=all ;;
    --etcd-ips) [ $# -ge 2 ] || die "$1 needs three addresses A,B,C"; etcd_ips=$2; shift ;;
    --etcd-ips=*) etcd_ips=${1#*=} ;;
    -o|--out) [ $# -ge 2 ] || die "$1 needs a directory"; outdir=$2; shift ;;
    --out=*) outdir=${1#*=} ;;
    -r|--replicas) [ $# -ge 2 ] || die "$1 needs a number"; replicas=$2; shift ;;
    --replicas=*) replicas=${1#*=} ;;
    -i|--image) [ $# -ge 2 ] || die "$1 needs an image name"; image=$2; shift ;;
    --image=*) image=${1#*=} ;;
    --) shift; positional+=("$@"); break ;;
    -*) die "unknown option $1" ;;
    *) positional+=("$1") ;;
  esac
  shift
done
[ ${#positional[@]} -ge 1 ] || die "missing the service CIDR (e.g. 10.0.0.0/24) or the DNS server IP"
[ ${#positional[@]} -le 2 ] || die "too many arguments: ${positional[*]}"
target=${positional[0]}
domain=${positional[1]:-${DNS_DOMAIN:-cluster.local}}

# --- IPv4 / IPv6 ------------------------------------------------------------------
# ip4_to_int A.B.C.D -> prints the 32-bit value; fails on anything else (no leading zeros:
# 010 would mean 8 to some parsers).
ip4_to_int() {
  local ip=$1 a b c d o n=0
  [[ $ip =~ ^([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})$ ]] || return 1
  a=${BASH_REMATCH[1]} b=${BASH_REMATCH[2]} c=${BASH_REMATCH[3]} d=${BASH_REMATCH[4]}
  for o in "$a" "$b" "$c" "$d"; do
    [[ $o =~ ^(0|[1-9][0-9]*)$ ]] || return 1
    [ "$o" -le 255 ] || return 1
    n=$(( (n << 8) | o ))
  done
  echo "$n"
}

int_to_ip4() {
  local n=$1
  echo "$(( (n >> 24) & 255 )).$(( (n >> 16) & 255 )).$(( (n >> 8) & 255 )).$(( n & 255 ))"
}

is_ip6() {
  local ip=$1 head tail groups=0 g
  [[ $ip =~ ^[0-9a-fA-F:]+$ ]] || return 1
  [[ $ip == *:* ]] || return 1
  [[ $ip == *:::* ]] && return 1
  if [[ $ip == *::* ]]; then
    head=${ip%%::*} tail=${ip#*::}
    [[ $tail == *::* ]] && return 1
  else
    head=$ip tail=
  fi
  for part in "$head" "$tail"; do
    [ -z "$part" ] && continue
    IFS=: read -r -a gs <<<"$part"
    [[ $part == :* || $part == *: ]] && return 1
    for g in "${gs[@]}"; do
      [[ $g =~ ^[0-9a-fA-F]{1,4}$ ]] || return 1
      groups=$((groups + 1))
    done
  done
  if [[ $ip == *::* ]]; then [ $groups -le 7 ]; else [ $groups -eq 8 ]; fi
}

# --- the DNS server address ---------------------------------------------------------
cidr=
if [[ $target == */* ]]; then
  addr=${target%/*} bits=${target#*/}
  if is_ip6 "$addr"; then
    die "\"$target\": IPv6 service CIDRs are not derived; pass the DNS server address itself (e.g. ${addr%%::*}::a)"
  fi
  n=$(ip4_to_int "$addr") || die "\"$target\" is not a valid IPv4 CIDR (expected e.g. 10.0.0.0/24)"
  [[ $bits =~ ^(0|[1-9][0-9]?)$ ]] && [ "$bits" -le 32 ] || die "\"$target\": the prefix length must be 0..32"
  [ "$bits" -ge 1 ] || die "\"$target\": a /0 service CIDR is not a real one"
  mask=$(( (0xFFFFFFFF << (32 - bits)) & 0xFFFFFFFF ))
  net=$(( n & mask ))
  [ "$net" -eq "$n" ] || die "\"$target\" has host bits set; did you mean $(int_to_ip4 "$net")/$bits?"
  [ "$bits" -le 28 ] || die "\"$target\" is too small: the DNS server is the .10 of the service CIDR, which needs a /28 or larger"
  dns_ip=$(int_to_ip4 $(( net + 10 )))
  derived_etcd="$(int_to_ip4 $(( net + 11 ))),$(int_to_ip4 $(( net + 12 ))),$(int_to_ip4 $(( net + 13 )))"
  cidr=$target
elif n=$(ip4_to_int "$target"); then
  case $target in
    0.0.0.0|255.255.255.255|127.*) die "\"$target\" cannot be a Service clusterIP" ;;
  esac
  dns_ip=$target
elif is_ip6 "$target"; then
  dns_ip=$(tr 'A-F' 'a-f' <<<"$target")
  case $dns_ip in
    ::|::1) die "\"$target\" cannot be a Service clusterIP" ;;
  esac
else
  die "\"$target\" is neither a service CIDR (e.g. 10.0.0.0/24) nor an IP address"
fi

# --- the domain -------------------------------------------------------------------
domain=$(tr 'A-Z' 'a-z' <<<"${domain%.}")
[ -n "$domain" ] || die "the domain must not be empty"
[ ${#domain} -le 253 ] || die "domain \"$domain\" is longer than 253 characters"
IFS=. read -r -a labels <<<"$domain"
[[ $domain == *..* || $domain == .* ]] && die "domain \"$domain\" has an empty label"
for l in "${labels[@]}"; do
  [[ $l =~ ^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$ ]] || die "domain \"$domain\": \"$l\" is not a valid DNS label (letters, digits, '-', at most 63)"
done

# --- replicas, image ----------------------------------------------------------------
[[ $replicas =~ ^[1-9][0-9]{0,3}$ ]] || die "replicas must be a whole number from 1 to 9999, not \"$replicas\""
[[ $image =~ ^[A-Za-z0-9][A-Za-z0-9._/:@-]*$ ]] || die "\"$image\" is not an image reference"

# --- the etcd members' addresses (scale-out) -------------------------------------------
etcd0= etcd1= etcd2=
if [ "$select" = scale-out ] || [ "$select" = all ] || [ -n "$etcd_ips" ]; then
  ips=${etcd_ips:-${derived_etcd:-}}
  [ -n "$ips" ] || die "the scale-out form needs the etcd members' clusterIPs: give --etcd-ips A,B,C, or a service CIDR to take its .11, .12 and .13"
  IFS=, read -r -a e <<<"$ips"
  [ ${#e[@]} -eq 3 ] || die "--etcd-ips \"$ips\": give exactly three addresses, comma-separated"
  for a in "${e[@]}"; do
    if ! ip4_to_int "$a" >/dev/null && ! is_ip6 "$a"; then die "--etcd-ips: \"$a\" is not an IP address"; fi
    [ "$a" != "$dns_ip" ] || die "--etcd-ips: $a is the DNS server address"
  done
  [ "${e[0]}" != "${e[1]}" ] && [ "${e[0]}" != "${e[2]}" ] && [ "${e[1]}" != "${e[2]}" ] || die "--etcd-ips \"$ips\": the three addresses must differ"
  etcd0=${e[0]} etcd1=${e[1]} etcd2=${e[2]}
fi

# --- templates ----------------------------------------------------------------------
case $select in
  current) files=("$templates/kube-dns.yaml.in") ;;
  legacy) files=("$templates/skydns-rc.yaml.in" "$templates/skydns-svc.yaml.in") ;;
  scale-out) files=("$templates/kube-dns-scale-out.yaml.in") ;;
  all) files=("$templates"/*.yaml.in) ;;
esac
for f in "${files[@]}"; do
  [ -f "$f" ] || { echo "$prog: template $f is missing" >&2; exit 1; }
done

# Comment lines keep the placeholder names: they document what was substituted.
render() {
  sed -e "/^[[:space:]]*#/!{
s|__PILLAR__DNS__DOMAIN__|$domain|g
s|__PILLAR__DNS__SERVER__|$dns_ip|g
s|__PILLAR__DNS__REPLICAS__|$replicas|g
s|__PILLAR__ETCD__0__|$etcd0|g
s|__PILLAR__ETCD__1__|$etcd1|g
s|__PILLAR__ETCD__2__|$etcd2|g
s|image: $default_image\$|image: $image|
}" "$1"
}

if [ -n "$outdir" ]; then
  mkdir -p "$outdir"
fi
first=1
for f in "${files[@]}"; do
  name=$(basename "$f" .in)
  out=$(render "$f")
  left=$(grep -v '^[[:space:]]*#' <<<"$out" | grep -o '__PILLAR__[A-Z_]*' | sort -u | tr '\n' ' ' || true)
  if [ -n "$left" ]; then
    echo "$prog: $f still has placeholders after rendering: $left" >&2
    exit 1
  fi
  header="# Rendered from manifests/$(basename "$f") by deploy/render.sh: DNS server $dns_ip${cidr:+ (service CIDR $cidr)}, domain $domain, replicas $replicas${etcd0:+, etcd members $etcd0 $etcd1 $etcd2}."
  if [ -n "$outdir" ]; then
    printf '%s\n%s\n' "$header" "$out" >"$outdir/$name"
    echo "$prog: wrote $outdir/$name" >&2
  else
    [ $first -eq 1 ] || echo '---'
    printf '%s\n%s\n' "$header" "$out"
  fi
  first=0
done
echo "$prog: DNS server $dns_ip, domain $domain; every kubelet needs --cluster-dns=$dns_ip --cluster-domain=$domain" >&2

#!/usr/bin/env bash
# Applies the runtime-changeable host settings of perf/TUNING.md for the cores the
# engine's stages run on: the CPU frequency governor, transparent huge pages, and IRQ
# affinity away from those cores. Explains, without applying, the boot parameters
# (isolcpus, nohz_full, rcu_nocbs, ...) that need a reboot.
#
# Every command is printed and confirmed (y/N) before it runs. Nothing persists across a
# reboot: see perf/TUNING.md for making it permanent. Check the result with `arb doctor`.
#
# Usage: scripts/tune-host.sh [--config FILE | --cores LIST] [--housekeeping LIST]
#                             [--thp madvise|never] [--dry-run] [--yes]
#
#   --config FILE        take the stage cores from the `core = N` lines of FILE's
#                        [[layout.threads]] (default: config/production.toml when no
#                        --cores is given and nothing is isolated)
#   --cores LIST         the stage cores, e.g. 2-7 (default: the isolated cores, else
#                        those of the config)
#   --housekeeping LIST  where interrupts go (default: online cores that are neither
#                        stage cores nor isolated)
#   --thp MODE           transparent huge pages mode: madvise (default) or never
#   --dry-run            print the commands, change nothing
#   --yes                do not ask before each command
#   --sysroot DIR        act on DIR/sys and DIR/proc (tests)
set -euo pipefail

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; }

config="" cores="" housekeeping="" thp="madvise" dry_run=0 yes=0 sysroot=""
while [[ $# -gt 0 ]]; do
    case "$1" in
        --config) config="$2"; shift 2 ;;
        --cores) cores="$2"; shift 2 ;;
        --housekeeping) housekeeping="$2"; shift 2 ;;
        --thp) thp="$2"; shift 2 ;;
        --dry-run) dry_run=1; shift ;;
        --yes|-y) yes=1; shift ;;
        --sysroot) sysroot="${2%/}"; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
done
case "$thp" in madvise|never) ;; *) echo "--thp must be madvise or never" >&2; exit 2 ;; esac

SYS="$sysroot/sys"
PROC="$sysroot/proc"

# Expands a kernel CPU list (0-3,8) to one number per line.
expand() {
    local part a b
    local IFS=,
    for part in $1; do
        if [[ -z "$part" || "$part" == "(null)" ]]; then continue; fi
        if [[ "$part" == *-* ]]; then
            a="${part%-*}" b="${part#*-}"
            seq "$a" "$b"
        else
            echo "$part"
        fi
    done
}

# Joins numbers (one per line, any order) back into a kernel CPU list.
compact() {
    sort -n -u | awk 'NR == 1 { s = $1; p = $1; next }
        $1 == p + 1 { p = $1; next }
        { printf "%s%s,", s, (s == p ? "" : "-" p); s = $1; p = $1 }
        END { if (NR) printf "%s%s\n", s, (s == p ? "" : "-" p) }' | sed 's/,$//'
}

# A hex affinity mask of a CPU list (for /proc/irq/default_smp_affinity), 32 bits a group.
mask_of() {
    local max=0 c groups i g hex=""
    local -a bits=()
    for c in $(expand "$1"); do
        bits[c]=1
        if (( c > max )); then max=$c; fi
    done
    groups=$(( max / 32 + 1 ))
    for (( i = groups - 1; i >= 0; i-- )); do
        g=0
        for (( c = 0; c < 32; c++ )); do
            if [[ -n "${bits[i * 32 + c]:-}" ]]; then g=$(( g | (1 << c) )); fi
        done
        hex+=$(printf '%08x' "$g")
        if (( i > 0 )); then hex+=","; fi
    done
    echo "$hex"
}

read_file() { cat "$1" 2>/dev/null || true; }

online=$(read_file "$SYS/devices/system/cpu/online")
isolated=$(read_file "$SYS/devices/system/cpu/isolated")
if [[ "$isolated" == "(null)" ]]; then isolated=""; fi
if [[ -z "$online" ]]; then
    echo "cannot read $SYS/devices/system/cpu/online" >&2
    exit 1
fi

if [[ -z "$cores" && -n "$config" ]]; then
    cores=$(sed -n 's/^[[:space:]]*core[[:space:]]*=[[:space:]]*\([0-9][0-9]*\).*/\1/p' "$config" | compact)
    [[ -n "$cores" ]] || { echo "$config pins no cores (no \`core = N\` in [[layout.threads]])" >&2; exit 1; }
fi
if [[ -z "$cores" ]]; then
    cores="$isolated"
fi
if [[ -z "$cores" ]]; then
    default_config="$(dirname "$0")/../config/production.toml"
    cores=$(sed -n 's/^[[:space:]]*core[[:space:]]*=[[:space:]]*\([0-9][0-9]*\).*/\1/p' "$default_config" | compact)
    echo "no --cores, --config or isolated cores: using config/production.toml's ($cores)"
fi
cores=$(expand "$cores" | compact)

missing=$(comm -23 <(expand "$cores" | sort) <(expand "$online" | sort) | sort -n | compact)
if [[ -n "$missing" ]]; then
    echo "stage cores $missing are not online here (online: $online)" >&2
    exit 1
fi
if [[ -z "$housekeeping" ]]; then
    housekeeping=$(comm -23 <(expand "$online" | sort) <( (expand "$cores"; expand "$isolated") | sort -u) | compact)
fi
if [[ -z "$housekeeping" ]]; then
    echo "no core left for housekeeping (online $online, stage $cores, isolated ${isolated:-none}); pass --housekeeping" >&2
    exit 1
fi
housekeeping=$(expand "$housekeeping" | compact)

if [[ $dry_run -eq 0 && -z "$sysroot" && $EUID -ne 0 ]]; then
    echo "applying needs root: run it with sudo, or with --dry-run to see the commands" >&2
    exit 1
fi

echo "stage cores:        $cores"
echo "housekeeping cores: $housekeeping (interrupts go here)"
echo "isolated now:       ${isolated:-none}"
echo

applied=0 skipped=0
# step TITLE COMMAND: prints the command, asks, runs it.
step() {
    local title="$1" cmd="$2" answer
    echo "== $title"
    echo "   \$ $cmd"
    if [[ $dry_run -eq 1 ]]; then
        echo "   (dry run: not applied)"
        return
    fi
    if [[ $yes -eq 0 ]]; then
        read -r -p "   apply? [y/N] " answer || answer=""
        if [[ ! "$answer" =~ ^[Yy]([Ee][Ss])?$ ]]; then
            echo "   skipped"
            skipped=$((skipped + 1))
            return
        fi
    fi
    if bash -c "$cmd"; then
        applied=$((applied + 1))
    else
        echo "   failed (exit $?)" >&2
    fi
}

# 1. CPU frequency governor on the stage cores.
gov_files=()
for c in $(expand "$cores"); do
    f="$SYS/devices/system/cpu/cpu$c/cpufreq/scaling_governor"
    if [[ -e "$f" ]]; then gov_files+=("$f"); fi
done
if [[ ${#gov_files[@]} -gt 0 ]]; then
    cmd="for f in ${gov_files[*]}; do echo performance > \"\$f\"; done"
    epp=()
    for c in $(expand "$cores"); do
        f="$SYS/devices/system/cpu/cpu$c/cpufreq/energy_performance_preference"
        if [[ -e "$f" ]]; then epp+=("$f"); fi
    done
    if [[ ${#epp[@]} -gt 0 ]]; then
        cmd+="; for f in ${epp[*]}; do echo performance > \"\$f\" 2>/dev/null || true; done"
    fi
    step "CPU frequency governor: performance on cores $cores" "$cmd"
else
    echo "== CPU frequency governor: no cpufreq on cores $cores (a VM, or firmware-controlled); nothing to do"
fi

# 2. Transparent huge pages.
thp_dir="$SYS/kernel/mm/transparent_hugepage"
if [[ -e "$thp_dir/enabled" ]]; then
    step "Transparent huge pages: $thp (no khugepaged collapses or compaction stalls behind the engine's back)" \
        "echo $thp > $thp_dir/enabled; echo $thp > $thp_dir/defrag"
else
    echo "== Transparent huge pages: $thp_dir not present; nothing to do"
fi

# 3. IRQ affinity: every interrupt to the housekeeping cores, new ones too.
if [[ -d "$PROC/irq" ]]; then
    step "IRQ affinity: every interrupt to cores $housekeeping (per-CPU and managed IRQs refuse; they are listed)" \
        "for d in $PROC/irq/[0-9]*; do echo $housekeeping > \"\$d/smp_affinity_list\" 2>/dev/null || echo \"   IRQ \${d##*/}: stays (per-CPU or kernel-managed)\"; done; echo $(mask_of "$housekeeping") > $PROC/irq/default_smp_affinity"
else
    echo "== IRQ affinity: $PROC/irq not present; nothing to do"
fi

# irqbalance would move interrupts back.
for comm in "$PROC"/[0-9]*/comm; do
    if [[ "$(read_file "$comm")" == "irqbalance" ]]; then
        echo
        echo "!! irqbalance is running and may move interrupts back onto $cores. Either stop it"
        echo "   (systemctl disable --now irqbalance) or ban the stage cores in"
        echo "   /etc/default/irqbalance: IRQBALANCE_BANNED_CPULIST=$cores"
        break
    fi
done

# 4. Boot parameters: explained, not applied.
cmdline=$(read_file "$PROC/cmdline")
echo
echo "== Boot parameters (need a reboot; not applied by this script)"
want="isolcpus=managed_irq,domain,$cores nohz_full=$cores rcu_nocbs=$cores rcu_nocb_poll irqaffinity=$housekeeping tsc=reliable clocksource=tsc transparent_hugepage=$thp skew_tick=1"
missing_params=()
for p in $want; do
    # key=value parameters by key, bare ones by name.
    if [[ "$p" == *=* ]]; then key="${p%%=*}="; else key="$p"; fi
    if ! grep -qE -- "(^| )${key}([^ ]*)( |\$)" <<<"$cmdline"; then missing_params+=("$p"); fi
done
if [[ ${#missing_params[@]} -eq 0 ]]; then
    echo "   the kernel command line already sets them all"
else
    echo "   not on the kernel command line yet: ${missing_params[*]}"
    echo "   add them to GRUB_CMDLINE_LINUX in /etc/default/grub, run update-grub (Debian/Ubuntu)"
    echo "   or grub2-mkconfig -o /boot/grub2/grub.cfg (RHEL/Fedora), and reboot. If the stage"
    echo "   cores have SMT siblings, isolate the siblings too and leave them idle, or boot"
    echo "   with nosmt. perf/TUNING.md explains each."
fi

echo
if [[ $dry_run -eq 1 ]]; then
    echo "dry run: nothing changed"
else
    echo "applied $applied, skipped $skipped; check with: arb doctor --config <your config>"
fi

#!/bin/bash
# Records the Linux inputs of the accounts collector with the real tools of Debian 12, on a copy
# of this machine's account files in a throw-away root (useradd/usermod/chage/lastlog -R ROOT),
# so the machine's own accounts are never changed. Run as root from this directory: ./record.sh
# (needs `apt-get download openssh-server`; installs nothing).
set -euo pipefail
cd "$(dirname "$0")"
out=$(pwd)
root=$(mktemp -d)
work=$(mktemp -d)
trap 'rm -rf "$root" "$work"' EXIT

mkdir -p "$root/etc/default" "$root/etc/sudoers.d" "$root/var/log" "$root/home"
cp /etc/passwd /etc/group /etc/shadow /etc/gshadow /etc/login.defs "$root/etc/"
cp /etc/default/useradd "$root/etc/default/" 2>/dev/null || true
: > "$root/var/log/lastlog"
# the organisation's people and accounts on host web1
groupadd -R "$root" sudo 2>/dev/null || true
useradd -R "$root" -m -s /bin/bash -c "Alice Admin" -G sudo alice
useradd -R "$root" -m -s /bin/bash -c "Bob Builder" bob
useradd -R "$root" -m -s /bin/bash -c "Carol (left in June)" carol
useradd -R "$root" -r -m -s /bin/bash -c "deploy pipeline" deploy
useradd -R "$root" -m -s /bin/bash -c "shared support login" support
# root gets a password so it can log in directly
usermod -R "$root" -p '$y$j9T$recordingonly$recordingonlyhashvalue0000000000000000' root
chage -R "$root" -d 2026-03-02 carol
chage -R "$root" -d 2025-11-20 -M 99999 support
lastlog -R "$root" -S -u alice
lastlog -R "$root" -S -u support
cat > "$root/etc/sudoers" <<'SUDOERS'
Defaults	env_reset
Defaults	secure_path="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
root	ALL=(ALL:ALL) ALL
%sudo	ALL=(ALL:ALL) ALL
@includedir /etc/sudoers.d
SUDOERS
echo 'deploy ALL=(root) NOPASSWD: /usr/bin/systemctl restart app.service' > "$root/etc/sudoers.d/deploy"
echo 'bob ALL=(ALL) NOPASSWD: ALL' > "$root/etc/sudoers.d/90-bob-temp"

cp "$root/etc/passwd" passwd
cp "$root/etc/group" group
# shadow's password field is replaced by what kind it is: a hash must never become evidence
awk -F: 'BEGIN{OFS=":"} { if ($2 ~ /^\$/) $2="<hash>"; print }' "$root/etc/shadow" > shadow.redacted
LC_ALL=C lastlog -R "$root" > lastlog.txt
cat "$root/etc/sudoers" > sudoers
for f in "$root"/etc/sudoers.d/*; do echo "# file: /etc/sudoers.d/$(basename "$f")"; cat "$f"; done > sudoers.d.txt

# sshd -T: Debian's sshd_config with the organisation's drop-in, read by the real sshd binary
(cd "$work" && apt-get download openssh-server >/dev/null 2>&1 && dpkg-deb -x openssh-server_*.deb x)
mkdir -p "$work/conf.d"
printf 'PermitRootLogin yes\nPasswordAuthentication yes\n' > "$work/conf.d/50-web1.conf"
sed "s#Include /etc/ssh/sshd_config.d/\*.conf#Include $work/conf.d/*.conf#" "$work/x/usr/share/openssh/sshd_config" > "$work/sshd_config"
ssh-keygen -q -t ed25519 -N "" -f "$work/hostkey"
cp /etc/passwd "$work/passwd" && echo 'sshd:x:101:65534::/run/sshd:/usr/sbin/nologin' >> "$work/passwd"
# sshd -T needs its privilege-separation user: provided in a private mount namespace only
unshare -m sh -c "mount --bind $work/passwd /etc/passwd && mkdir -p /run/sshd && $work/x/usr/sbin/sshd -T -f $work/sshd_config -h $work/hostkey" > sshd-T.txt
printf 'PermitRootLogin no\nPasswordAuthentication no\nAuthenticationMethods publickey\n' > "$work/conf.d/50-web1.conf"
unshare -m sh -c "mount --bind $work/passwd /etc/passwd && mkdir -p /run/sshd && $work/x/usr/sbin/sshd -T -f $work/sshd_config -h $work/hostkey" > sshd-T.hardened.txt

{
  echo "recorded: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "debian: $(cat /etc/debian_version)"
  dpkg-query -W passwd login
  dpkg-deb -f "$work"/openssh-server_*.deb Package Version | paste -sd' '
} > VERSIONS.txt

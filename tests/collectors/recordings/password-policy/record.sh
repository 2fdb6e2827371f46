#!/bin/bash
# Records the password-policy inputs of a Debian 12 host as shipped, and of the same host
# hardened the way the Debian man pages describe. Run as root from this directory: ./record.sh
# (needs network access to the Debian mirror for `apt-get download`; installs nothing).
set -euo pipefail
cd "$(dirname "$0")"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# --- debian-default: the files exactly as this Debian 12 host has them ---------------------
mkdir -p debian-default
cp /etc/login.defs debian-default/login.defs
cp /etc/pam.d/common-password debian-default/common-password
cp /etc/pam.d/common-auth debian-default/common-auth
cp /etc/security/faillock.conf debian-default/faillock.conf
# pwquality.conf as libpwquality-common ships it (every setting commented, i.e. the defaults)
(cd "$work" && apt-get download libpwquality-common libpam-pwquality >/dev/null 2>&1)
dpkg-deb -x "$work"/libpwquality-common_*.deb "$work/x"
dpkg-deb -x "$work"/libpam-pwquality_*.deb "$work/x"
cp "$work/x/etc/security/pwquality.conf" debian-default/pwquality.conf

# --- debian-hardened: the organisation's edits ----------------------------------------------
mkdir -p debian-hardened
cp debian-default/* debian-hardened/
# pam-auth-update would insert the line from /usr/share/pam-configs/pwquality; pam_pwhistory
# as its man page shows; both before pam_unix, which gets use_authtok.
sed -i 's/^password\t\[success=1 default=ignore\]\tpam_unix.so obscure yescrypt$/password\trequisite\t\t\tpam_pwquality.so retry=3\npassword\trequired\t\t\tpam_pwhistory.so remember=12 use_authtok\npassword\t[success=1 default=ignore]\tpam_unix.so obscure use_authtok try_first_pass yescrypt/' debian-hardened/common-password
# pam_faillock as faillock(8) shows it for common-auth
sed -i 's/^auth\t\[success=1 default=ignore\]\tpam_unix.so nullok$/auth\trequisite\t\t\tpam_faillock.so preauth\nauth\t[success=1 default=ignore]\tpam_unix.so nullok\nauth\t[default=die]\t\t\tpam_faillock.so authfail/' debian-hardened/common-auth
sed -i 's/^# deny = 3$/deny = 5/; s/^# unlock_time = 600$/unlock_time = 900/' debian-hardened/faillock.conf
sed -i 's/^# minlen = 8$/minlen = 14/; s/^# minclass = 0$/minclass = 3/; s/^# dictcheck = 1$/dictcheck = 1/' debian-hardened/pwquality.conf
sed -i 's/^PASS_MAX_DAYS\t99999$/PASS_MAX_DAYS\t365/' debian-hardened/login.defs

{
  echo "recorded: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "debian: $(cat /etc/debian_version)"
  dpkg-query -W login libpam-modules libpam-runtime
  dpkg-deb -f "$work"/libpwquality-common_*.deb Package Version | paste -sd' '
  dpkg-deb -f "$work"/libpam-pwquality_*.deb Package Version | paste -sd' '
} > VERSIONS.txt

#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: tunshape contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type


DOCUMENTATION = r'''
---
module: tunshape
short_description: Shape tun/tap devices to the speed of the link behind them
version_added: "0.1.0"
description:
  - Installs, changes or removes the root qdisc (tbf or htb) that the C(tunshape) command line tool
    puts on tun/tap devices, so that local senders are slowed to the rate of the backend behind the
    device instead of losing packets silently at the device.
  - A thin wrapper around C(tunshape --json apply) and C(tunshape --json clear). The tool reads the
    kernel's state and decides whether anything changes, so a second identical run reports
    C(changed=false) and sends nothing to the kernel.
  - Check mode runs the tool with C(--dry-run); diff mode returns the root qdisc before and after.
  - Everything is validated before the kernel is touched; when the kernel refuses one of several
    interfaces, the tool puts back those it already changed.
author:
  - tunshape contributors
requirements:
  - The C(tunshape) command line tool (Java 17) on the managed host
  - CAP_NET_ADMIN on the managed host (usually root, for example C(become=true)), and CAP_SYS_ADMIN
    when I(netns) is used
attributes:
  check_mode:
    description: Runs C(tunshape) with C(--dry-run) and reports what would change.
    support: full
  diff_mode:
    description: Returns the root qdisc of each interface before and after, as JSON text.
    support: full
  platform:
    description: Linux only.
    support: full
    platforms: posix
options:
  interface:
    description:
      - The interface to shape, or a glob over the tun/tap devices of the namespace (C(tap*), C(t[0-3])).
      - A plain name may be any device; C(tunshape) warns when it is not a tun/tap device.
      - The value is passed to C(tunshape) as one argument, never through a shell.
    type: str
    required: true
  state:
    description:
      - C(present) installs or changes tunshape's root qdisc (C(tunshape apply)); I(profile) or I(rate) is then required.
      - C(absent) removes tunshape's root qdisc, back to the kernel default (C(tunshape clear)).
        A root qdisc that tunshape did not install is left alone, with a warning.
    type: str
    choices: [present, absent]
    default: present
  profile:
    description:
      - A link profile, by name on the profile path of the managed host (C(tunshape profiles list)),
        or the path of a YAML file on the managed host.
      - Mutually exclusive with I(rate), I(burst), I(latency), I(limit), I(qdisc) and I(mode).
    type: str
  rate:
    description:
      - The backend's payload rate, in tc's units, for example C(9600bit), C(1.2kbit), C(10mbit), C(1gbit).
      - C(bps), C(kbps), C(mbps) mean B(bytes) per second, as in tc.
    type: str
  burst:
    description:
      - Bucket size, for example C(1514), C(4k) (binary multiples).
      - Default is 1 ms of traffic at the rate, and never less than one full frame.
    type: str
  latency:
    description:
      - The longest wait in the queue, for example C(500ms), C(2s) (a bare number is microseconds).
      - Sets the queue limit to rate x latency + burst; excess packets are dropped and counted.
      - Mutually exclusive with I(limit) (the tool refuses both).
    type: str
  limit:
    description:
      - Queue limit in bytes, for example C(64k).
    type: str
  qdisc:
    description:
      - The root qdisc kind. Default is C(tbf).
    type: str
    choices: [tbf, htb]
  mode:
    description:
      - C(backpressure) sizes the queue to hold local senders' socket buffers, so they block instead of losing packets.
      - C(latency) bounds the wait with I(latency) or I(limit).
      - Default is C(latency) when I(latency) or I(limit) is given, otherwise C(backpressure).
    type: str
    choices: [backpressure, latency]
  netns:
    description:
      - The network namespace to work in, a name under C(/var/run/netns) or a path such as C(/proc/PID/ns/net).
      - Default is the namespace of the module's process.
    type: str
  executable:
    description:
      - Path of the C(tunshape) command line tool.
      - Default is C(tunshape) found on the C(PATH) (and in the usual sbin directories) of the managed host.
    type: path
notes:
  - With I(state=absent) the shaping options are not used; a warning says so when they are given.
  - Warnings of the tool (for example a profile made for another MTU) are shown as Ansible warnings.
  - The command line tool, its JSON output and its exit status are described in the README of the tunshape project
    and in its manual page, tunshape(8).
'''

EXAMPLES = r'''
- name: Shape every tap device from a link profile
  become: true
  tunshape.net.tunshape:
    interface: 'tap*'
    profile: ax25-9600-g3ruh

- name: Shape tun0 to 1 Mbit/s with at most 200 ms in the queue
  become: true
  tunshape.net.tunshape:
    interface: tun0
    rate: 1mbit
    latency: 200ms

- name: An htb root on a tap device in a network namespace
  become: true
  tunshape.net.tunshape:
    interface: tap0
    netns: lab
    qdisc: htb
    rate: 10mbit

- name: Back to the kernel default qdisc
  become: true
  tunshape.net.tunshape:
    interface: 'tap*'
    state: absent

- name: A tunshape that is not on the PATH
  become: true
  tunshape.net.tunshape:
    interface: tun0
    rate: 9600bit
    executable: /opt/tunshape/bin/tunshape
'''

RETURN = r'''
changed:
  description: Whether the kernel's state changed (or, in check mode, would change), as decided by C(tunshape).
  returned: always
  type: bool
command:
  description: The argument list the module ran.
  returned: always
  type: list
  elements: str
  sample: ["/usr/local/bin/tunshape", "--json", "--netns", "lab", "apply", "tap*", "--profile", "ax25-9600-g3ruh"]
results:
  description:
    - One entry per interface, as printed by C(tunshape --json apply) or C(tunshape --json clear).
    - I(before) and I(after) are null for the kernel default qdisc; htb adds C(default_class), C(r2q),
      C(direct_qlen), C(classes) and C(filters).
  returned: success
  type: list
  elements: dict
  contains:
    interface:
      description: The interface name.
      type: str
      sample: tap0
    netns:
      description: The network namespace, or null for the module's own.
      type: str
      sample: lab
    changed:
      description: Whether this interface changed (or would change).
      type: bool
    before:
      description: tunshape's view of the root qdisc before the change; null for the kernel default.
      type: dict
      sample: null
    after:
      description: The root qdisc after the change (or the plan, in check mode); null for the kernel default.
      type: dict
      sample: {"kind": "tbf", "handle": "7473:", "managed": true, "rate_bps": 9600, "burst_bytes": 1514,
               "limit_bytes": 3914, "overhead": 228, "mpu": 0}
    txqueuelen_before:
      description: The device's txqueuelen before.
      type: int
      sample: 1000
    txqueuelen_after:
      description: The device's txqueuelen after.
      type: int
      sample: 24
    warnings:
      description: The tool's warnings for this interface (also shown as Ansible warnings).
      type: list
      elements: str
    explanation:
      description: What the plan means (longest wait, burst, backpressure) and the steps taken.
      type: list
      elements: str
stderr:
  description: The tool's standard error, when it failed.
  returned: failure
  type: str
  sample: "tunshape: no interface 'tap9' in network namespace 'lab'"
rc:
  description:
    - The tool's exit status, when it failed. 1 the kernel refused, 2 invalid input (nothing was changed),
      3 no such interface or namespace, 4 permission denied, 5 another change to the namespace (the daemon,
      another apply) held its lock for longer than the tool's default wait (10 s; nothing was changed).
  returned: failure
  type: int
  sample: 3
'''

import json

from ansible.module_utils.basic import AnsibleModule

SHAPING_OPTIONS = ('rate', 'burst', 'latency', 'limit', 'qdisc', 'mode')


def apply_args(params):
    if params['profile'] is not None:
        return ['--profile', params['profile']]
    args = []
    for name in SHAPING_OPTIONS:
        if params[name] is not None:
            args.extend(['--' + name, params[name]])
    return args


def build_command(exe, params, check_mode):
    cmd = [exe, '--json']
    if params['netns'] is not None:
        cmd.extend(['--netns', params['netns']])
    if params['state'] == 'present':
        cmd.extend(['apply', params['interface']])
        cmd.extend(apply_args(params))
    else:
        cmd.extend(['clear', params['interface']])
    if check_mode:
        cmd.append('--dry-run')
    return cmd


def error_message(rc, stdout, stderr):
    # The tool prints its error as one line starting with 'tunshape: ' (warnings start with 'warning: ').
    lines = [line for line in stderr.splitlines() if line.startswith('tunshape: ')]
    if lines:
        return '\n'.join(lines)
    text = (stderr or stdout).strip()
    return text if text else 'tunshape exited with status %d' % rc


def diff_text(results, key):
    state = {}
    for r in results:
        name = r.get('interface')
        if r.get('netns'):
            name = '%s (netns %s)' % (name, r['netns'])
        state[name] = {'qdisc': r.get(key), 'txqueuelen': r.get('txqueuelen_' + key)}
    return json.dumps(state, indent=2, sort_keys=True) + '\n'


def main():
    module = AnsibleModule(
        argument_spec=dict(
            interface=dict(type='str', required=True),
            state=dict(type='str', default='present', choices=['present', 'absent']),
            profile=dict(type='str'),
            rate=dict(type='str'),
            burst=dict(type='str'),
            latency=dict(type='str'),
            limit=dict(type='str'),
            qdisc=dict(type='str', choices=['tbf', 'htb']),
            mode=dict(type='str', choices=['backpressure', 'latency']),
            netns=dict(type='str'),
            executable=dict(type='path'),
        ),
        mutually_exclusive=[['profile', name] for name in SHAPING_OPTIONS],
        required_if=[('state', 'present', ('profile', 'rate'), True)],
        supports_check_mode=True,
    )
    params = module.params

    if params['state'] == 'absent':
        unused = [n for n in ('profile',) + SHAPING_OPTIONS if params[n] is not None]
        if unused:
            module.warn('state=absent removes the qdisc; %s not used' % ', '.join(unused))

    exe = params['executable'] or module.get_bin_path('tunshape', required=True)
    cmd = build_command(exe, params, module.check_mode)

    rc, stdout, stderr = module.run_command(cmd, check_rc=False)
    if rc != 0:
        module.fail_json(msg=error_message(rc, stdout, stderr), rc=rc, cmd=cmd, command=cmd,
                         stdout=stdout, stderr=stderr)

    try:
        out = json.loads(stdout)
        results = out['results']
        changed = bool(out['changed'])
    except (ValueError, KeyError, TypeError) as e:
        module.fail_json(msg='cannot read the JSON output of tunshape: %s' % e, rc=rc, cmd=cmd,
                         command=cmd, stdout=stdout, stderr=stderr)

    for r in results:
        for w in r.get('warnings') or []:
            module.warn('%s: %s' % (r.get('interface'), w))

    result = dict(changed=changed, command=cmd, results=results)
    if module._diff:
        result['diff'] = dict(
            before=diff_text(results, 'before'),
            after=diff_text(results, 'after'),
            before_header='%s (before)' % params['interface'],
            after_header='%s (after)' % params['interface'],
        )
    module.exit_json(**result)


if __name__ == '__main__':
    main()

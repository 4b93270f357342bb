"""Drives a vpnos NETCONF server with ncclient, as an automation user would.

Usage: ncclient_check.py HOST PORT OUTDIR

Writes to OUTDIR: every module fetched with get-schema (NAME.yang), the
running configuration from get-config (running.xml) and the data of get
(get.xml), for the Go test to check with yanglint and the CLI. Exits non-zero
with a message on the first check that fails.
"""

import json
import os
import sys
import time

from lxml import etree
from ncclient import manager
from ncclient.operations import RPCError
from ncclient.operations.rpc import RPC, RaiseMode
from ncclient.xml_ import new_ele

BASE = "urn:ietf:params:xml:ns:netconf:base:1.0"
VI = "urn:vpnos:yang:vpnos-vpn-instance"

host, port, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]


def connect():
    return manager.connect(host=host, port=port, username="admin", password="admin",
                           hostkey_verify=False, look_for_keys=False, allow_agent=False,
                           timeout=30)


def check(cond, msg):
    if not cond:
        print("FAIL: " + msg, file=sys.stderr)
        sys.exit(1)


def vpn(name, rd, extra=""):
    return ('<config xmlns="%s"><vpn-instances xmlns="%s"><vpn-instance><name>%s</name>%s'
            '<ipv4-family><route-distinguisher>%s</route-distinguisher>'
            '<vpn-target><value>65000:1</value><direction>export-extcommunity</direction></vpn-target>'
            '</ipv4-family></vpn-instance></vpn-instances></config>' % (BASE, VI, name, extra, rd))


def instances(m, source="running"):
    data = m.get_config(source=source).data_ele
    return [e.text for e in data.iter("{%s}name" % VI)]


facts = {}
m = connect()
caps = set(m.server_capabilities)
for c in [":candidate", ":confirmed-commit:1.1", ":validate:1.1", ":rollback-on-error", ":writable-running", ":xpath"]:
    check(any(x.startswith("urn:ietf:params:netconf:capability" + c) for x in caps), "capability " + c)
check("urn:ietf:params:netconf:base:1.1" in caps, "base:1.1")
facts["session"] = m.session_id

# Every module announced is fetched with get-schema.
modules = {}
for c in caps:
    if "?module=" in c:
        q = dict(kv.split("=", 1) for kv in c.split("?", 1)[1].split("&"))
        modules[q["module"]] = q.get("revision")
check("vpnos-vpn-instance" in modules and "ietf-netconf-monitoring" in modules, "modules announced: %s" % modules)
for name, rev in modules.items():
    text = m.get_schema(name, version=rev, format="yang").data
    check(text.lstrip().startswith("module " + name), "get-schema " + name)
    with open(os.path.join(out, name + ".yang"), "w") as f:
        f.write(text)

# edit-config + validate + commit.
m.edit_config(target="candidate", config=vpn("nc-red", "65000:11", "<description>from ncclient</description>"))
m.edit_config(target="candidate", config=vpn("nc-blue", "65000:12"))
check(instances(m, "candidate")[-2:] == ["nc-red", "nc-blue"], "candidate: %s" % instances(m, "candidate"))
check("nc-red" not in instances(m), "running before commit")
m.validate(source="candidate")
m.commit()
check(instances(m)[-2:] == ["nc-red", "nc-blue"], "running after commit: %s" % instances(m))

# A refused commit changes nothing and says why.
before = m.get_config(source="running").data_xml
m.edit_config(target="candidate", config=vpn("nc-dup", "65000:11"))
try:
    m.commit()
    check(False, "a commit with a duplicate RD went through")
except RPCError as e:
    check(e.tag == "operation-failed", "refused commit tag %s" % e.tag)
    check("65000:11" in e.message and "already used by VPN instance nc-red" in e.message, "refused commit message %r" % e.message)
    facts["refused"] = e.message
check(m.get_config(source="running").data_xml == before, "a refused commit changed running")
m.discard_changes()

# An edit with an unknown element: rpc-error with its path.
try:
    m.edit_config(target="candidate", config='<config xmlns="%s"><vpn-instances xmlns="%s"><vpn-instance>'
                  '<name>nc-red</name><colour>red</colour></vpn-instance></vpn-instances></config>' % (BASE, VI))
    check(False, "an unknown element was accepted")
except RPCError as e:
    check(e.tag == "unknown-element", "unknown element tag %s" % e.tag)
    check(e.path and "vpn-instance[vi:name='nc-red']" in e.path, "error-path %r" % e.path)

# Locks: a second session is denied with the holder's session id.
m.lock(target="running")
m2 = connect()
try:
    m2.lock(target="running")
    check(False, "a second lock was granted")
except RPCError as e:
    check(e.tag == "lock-denied", "lock tag %s" % e.tag)
    info = etree.fromstring(e.info.encode())
    sid = info.find("{%s}session-id" % BASE)
    check(sid is not None and sid.text == str(m.session_id), "lock-denied names %s, holder is %s" % (e.info, m.session_id))
    facts["lock_denied_holder"] = sid.text
m.unlock(target="running")
m2.lock(target="running")
m2.unlock(target="running")

# A confirmed commit that nobody confirms rolls back.
m.edit_config(target="candidate", config=vpn("nc-trial", "65000:19"))
m.commit(confirmed=True, timeout="2")
check("nc-trial" in instances(m2), "confirmed commit not applied")
deadline = time.time() + 20
while "nc-trial" in instances(m2):
    check(time.time() < deadline, "confirmed commit not rolled back in time")
    time.sleep(0.2)
facts["rolled_back"] = True

# Malformed XML gets malformed-message, and the session goes on. The rpc is
# a real ncclient request whose text is broken after its message-id: the
# server reads the message-id back, so ncclient matches the reply.
class Broken(RPC):
    def _wrap(self, subele):
        return ('<rpc message-id="%s" xmlns="%s"><get-config><source><running/></source></get-conf></rpc>'
                % (self._id, BASE))

    def request(self):
        return self._request(new_ele("get"))


try:
    Broken(m2._session, m2._device_handler, timeout=10, raise_mode=RaiseMode.ALL).request()
    check(False, "malformed XML was answered without an error")
except RPCError as e:
    check(e.tag == "malformed-message" and e.type == "rpc", "malformed XML answered with %s/%s" % (e.type, e.tag))
    facts["malformed"] = e.message
check("nc-red" in instances(m2), "the session stopped serving after malformed XML")

# What the Go test checks with yanglint: running and get.
data = m.get_config(source="running").data_ele
with open(os.path.join(out, "running.xml"), "wb") as f:
    for child in data:
        f.write(etree.tostring(child))
data = m.get().data_ele
with open(os.path.join(out, "get.xml"), "wb") as f:
    for child in data:
        f.write(etree.tostring(child))

m2.close_session()
m.close_session()
print(json.dumps(facts))

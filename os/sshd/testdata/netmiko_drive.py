"""Drives a vpnos node over SSH with netmiko, as an automation user would.

Usage: netmiko_drive.py HOST PORT DEVICE_TYPE INSTANCE RD

Prints one JSON object with what netmiko returned at each step; the Go test
(os/sshd automation_test.go) checks it. Exits non-zero when netmiko raises.
"""
import json
import sys

from netmiko import ConnectHandler

host, port, device_type, instance, rd = sys.argv[1:6]
out = {}
conn = ConnectHandler(device_type=device_type, host=host, port=int(port),
                      username="admin", password="admin", timeout=60)
out["prompt"] = conn.find_prompt()
out["base_prompt"] = conn.base_prompt
out["long"] = conn.send_command("display current-configuration")
out["version"] = conn.send_command("display version")

config = ["ip vpn-instance " + instance, "ipv4-family",
          "route-distinguisher " + rd, "vpn-target " + rd + " both"]
if device_type == "huawei_vrpv8":
    # The VRP8 driver: edit, then its commit() (system-view, commit, return).
    out["config"] = conn.send_config_set(config, exit_config_mode=False)
    out["commit"] = conn.commit()
else:
    # The generic Huawei driver knows no commit: it is one more line.
    out["config"] = conn.send_config_set(config + ["commit"])
out["in_config_after"] = conn.check_config_mode()

# A line the device refuses: netmiko 2.4.2 returns the output, in which the
# error stands under the line, as on VRP.
out["bad"] = conn.send_config_set(["ip vpn-instance " + instance, "ipv4-family",
                                   "route-distinguisher 1.2.3"])

if device_type == "huawei_vrpv8":
    # The VRP8 driver has no save_config(); save asks [Y/N]. (send_command
    # would first send Enter to find the prompt, which answers the question.)
    out["save"] = conn.send_command_timing("save")
    out["save"] += conn.send_command_timing("y")
else:
    out["save"] = conn.save_config(confirm=True, confirm_response="y")
out["after"] = conn.send_command("display current-configuration configuration vpn-instance")
conn.disconnect()
print(json.dumps(out))

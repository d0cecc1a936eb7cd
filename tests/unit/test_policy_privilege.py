"""The policy pack's rules on privilege and credentials: host-wide access, the MIG device plugin, kubeconfig, cluster.

Resources are the program's real ones (`tests.support.policy_stack`) or small
engine-shaped workloads; each case is shown passing and failing.
"""

from __future__ import annotations

from typing import Any

import pytest
from pulumi_policy import Secret

from aks_gpu.facts import device_plugin
from policy import rules
from tests.support.policy_stack import (
    CLUSTER,
    DAEMONSET,
    DEPLOYMENT,
    DYNAMIC,
    JOB,
    KUBECONFIG,
    NAMESPACE,
    POD,
    PROVIDER,
    cpu_container,
    dev_stack,
    edited,
    find,
    pod_spec_of,
    workload,
)

# pulumi-policy's wire form of a secret (what the engine sends over gRPC).
SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"


# --- no-privileged-containers -------------------------------------------------------------------


def test_the_programs_workloads_are_unprivileged():
    for r in dev_stack():
        assert rules.privilege_violations(r.type, r.props) == [], r.name


@pytest.mark.parametrize(
    ("security_context", "fragment"),
    [
        ({"privileged": True}, "is privileged"),
        ({"allowPrivilegeEscalation": True}, "allowPrivilegeEscalation: true"),
        ({"capabilities": {"add": ["SYS_ADMIN"]}}, "SYS_ADMIN"),
        ({"capabilities": {"add": ["all"]}}, "ALL"),
    ],
    ids=["privileged", "escalation", "sys-admin", "all-capabilities"],
)
def test_privilege_is_refused(security_context, fragment):
    spec = {"containers": [cpu_container(securityContext=security_context)]}
    [message] = rules.privilege_violations(DEPLOYMENT, workload(DEPLOYMENT, "web", spec).props)
    assert "Deployment 'web': container 'app'" in message and fragment in message


def test_privilege_is_refused_in_init_containers_and_even_in_the_device_plugin():
    init = {"initContainers": [cpu_container(securityContext={"privileged": True})], "containers": [cpu_container()]}
    assert len(rules.privilege_violations(JOB, workload(JOB, "j", init).props)) == 1
    plugin = find(dev_stack(), DAEMONSET)

    def escalate(props):
        pod_spec_of(props)["containers"][0]["securityContext"]["privileged"] = True

    assert len(rules.privilege_violations(DAEMONSET, edited(plugin, escalate))) == 1


def test_only_the_device_plugin_mounts_a_host_path_and_only_its_socket_directory():
    socket_dir = {
        "volumes": [{"name": "dp", "hostPath": {"path": "/var/lib/kubelet/device-plugins/"}}],
        "containers": [cpu_container()],
    }
    [message] = rules.privilege_violations(DAEMONSET, workload(DAEMONSET, "not-the-plugin", socket_dir).props)
    assert "hostPath /var/lib/kubelet/device-plugins/" in message

    plugin = find(dev_stack(), DAEMONSET)

    def mount_docker_socket(props):
        pod_spec_of(props)["volumes"].append({"name": "docker", "hostPath": {"path": "/var/run/docker.sock"}})

    [message] = rules.privilege_violations(DAEMONSET, edited(plugin, mount_docker_socket))
    assert "volume 'docker' mounts hostPath /var/run/docker.sock" in message


def test_non_workloads_are_ignored():
    assert rules.privilege_violations(NAMESPACE, {"metadata": {"name": "x"}}) == []


# --- kubeconfig-is-secret -------------------------------------------------------------------------


def test_a_secret_kubeconfig_from_the_program_passes():
    provider = find(dev_stack(), PROVIDER)
    assert rules.kubeconfig_secrecy_problem(PROVIDER, provider.props) is None
    assert rules.remediate_kubeconfig_secret(PROVIDER, provider.props) is None
    assert rules.kubeconfig_source_violations(PROVIDER, provider.props) == []
    # The engine's wire form of a secret counts as well.
    wire = {"kubeconfig": {SECRET_SIG_KEY: SECRET_SIG, "value": KUBECONFIG}}
    assert rules.kubeconfig_secrecy_problem(PROVIDER, wire) is None


def test_a_plain_kubeconfig_is_flagged_and_remediated_into_a_secret():
    plain = {"kubeconfig": KUBECONFIG, "version": "4.34.2"}
    assert "not a Pulumi secret" in rules.kubeconfig_secrecy_problem(PROVIDER, plain)
    fixed = rules.remediate_kubeconfig_secret(PROVIDER, plain)
    assert isinstance(fixed["kubeconfig"], Secret) and fixed["kubeconfig"].value == KUBECONFIG
    assert fixed["version"] == "4.34.2" and plain["kubeconfig"] == KUBECONFIG  # the input is not mutated


@pytest.mark.parametrize(
    ("props", "fragment"),
    [({}, "falls back to the KUBECONFIG"), ({"kubeconfig": "/home/runner/.kube/config"}, "is a file path")],
    ids=["ambient", "path"],
)
def test_a_kubeconfig_that_is_not_the_programs_is_refused(props, fragment):
    [message] = rules.kubeconfig_source_violations(PROVIDER, props)
    assert fragment in message


def test_other_resources_and_unknown_kubeconfigs_are_left_alone():
    assert rules.kubeconfig_source_violations(PROVIDER, {"kubeconfig": rules.UNKNOWN}) == []
    dynamic = find(dev_stack(), DYNAMIC)
    assert rules.kubeconfig_secrecy_problem(dynamic.type, {"kubeconfig": "plain"}) is None


# --- cluster-rbac-and-managed-identity -------------------------------------------------------


def cluster_props(**changes) -> dict[str, Any]:
    props = dict(find(dev_stack(), CLUSTER).props)
    for key, value in changes.items():
        if value is None:
            props.pop(key, None)
        else:
            props[key] = value
    return props


def test_a_cluster_with_rbac_and_a_managed_identity_passes():
    assert rules.cluster_identity_violations(CLUSTER, cluster_props()) == []
    assert rules.cluster_identity_violations(CLUSTER, cluster_props(identity={"type": "UserAssigned"})) == []
    msi = {"clientId": "msi"}
    assert rules.cluster_identity_violations(CLUSTER, cluster_props(servicePrincipalProfile=msi)) == []


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"enableRBAC": False}, "sets enableRBAC: False"),
        ({"enableRBAC": None}, "does not set enableRBAC"),
        ({"identity": None}, "has no identity"),
        ({"identity": {"type": "None"}}, "identity type 'None'"),
        (
            {"servicePrincipalProfile": {"clientId": "00000000-0000-0000-0000-000000000000", "secret": "x"}},
            "servicePrincipalProfile",
        ),
    ],
    ids=["rbac-off", "rbac-unset", "no-identity", "identity-none", "service-principal"],
)
def test_a_cluster_without_rbac_or_managed_identity_is_refused(changes, fragment):
    [message] = rules.cluster_identity_violations(CLUSTER, cluster_props(**changes))
    assert fragment in message


# --- Host-wide access the rule's description covers ------------------------------------------------


def web(**pod: Any) -> dict[str, Any]:
    """A Deployment's props with these pod spec fields (one well-behaved container unless given)."""
    return workload(DEPLOYMENT, "web", {"containers": [cpu_container()], **pod}).props


def test_a_well_behaved_workload_passes():
    assert rules.privilege_violations(DEPLOYMENT, web()) == []
    fine = cpu_container(
        securityContext={
            "allowPrivilegeEscalation": False,
            "capabilities": {"add": ["NET_BIND_SERVICE", "cap_chown"], "drop": ["ALL"]},
        }
    )
    assert rules.privilege_violations(DEPLOYMENT, web(containers=[fine])) == []
    assert rules.privilege_violations(DEPLOYMENT, web(hostNetwork=False, hostPID=False, hostIPC=False)) == []
    empty_dir = [{"name": "scratch", "emptyDir": {}}]
    assert rules.privilege_violations(DEPLOYMENT, web(volumes=empty_dir)) == []


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/etc",
        "/var/lib/kubelet",
        "/var/lib/kubelet/device-plugins/..",
        "//var/lib/kubelet/device-plugins",
        "/var/run/docker.sock",
    ],
)
def test_every_host_path_but_the_plugins_socket_directory_is_refused(path):
    volume = {"name": "host", "hostPath": {"path": path}}
    [message] = rules.privilege_violations(DEPLOYMENT, web(volumes=[volume]))
    assert f"volume 'host' mounts hostPath {path}" in message
    plugin = find(dev_stack(), DAEMONSET)

    def mount(props):
        pod_spec_of(props)["volumes"].append(volume)

    [message] = rules.privilege_violations(DAEMONSET, edited(plugin, mount))
    assert f"hostPath {path}" in message


def test_the_plugins_socket_directory_passes_in_any_spelling():
    plugin = find(dev_stack(), DAEMONSET)
    for path in (device_plugin.SOCKET_DIR, device_plugin.SOCKET_DIR + "/", device_plugin.SOCKET_DIR + "/./"):

        def respell(props, path=path):
            pod_spec_of(props)["volumes"][0]["hostPath"]["path"] = path

        assert rules.privilege_violations(DAEMONSET, edited(plugin, respell)) == [], path


def test_a_host_path_persistent_volume_is_refused():
    pv = "kubernetes:core/v1:PersistentVolume"
    [message] = rules.privilege_violations(pv, {"metadata": {"name": "root"}, "spec": {"hostPath": {"path": "/"}}})
    assert "PersistentVolume 'root'" in message and "hostPath volume (/)" in message
    csi = {"metadata": {"name": "disk"}, "spec": {"csi": {"driver": "disk.csi.azure.com", "volumeHandle": "x"}}}
    assert rules.privilege_violations(pv, csi) == []
    assert rules.privilege_violations(pv, {"spec": {"hostPath": {"path": rules.UNKNOWN}}}) == []


@pytest.mark.parametrize("field", ["hostPID", "hostIPC", "hostNetwork"])
def test_host_namespaces_are_refused(field):
    [message] = rules.privilege_violations(DEPLOYMENT, web(**{field: True}))
    assert f"Deployment 'web' sets {field}: true" in message
    plugin = find(dev_stack(), DAEMONSET)
    [message] = rules.privilege_violations(DAEMONSET, edited(plugin, lambda p: pod_spec_of(p).update({field: True})))
    assert field in message


@pytest.mark.parametrize(
    "capability",
    [
        "SYS_MODULE",
        "SYS_PTRACE",
        "SYS_RAWIO",
        "NET_ADMIN",
        "NET_RAW",
        "BPF",
        "DAC_READ_SEARCH",
        "SYS_TIME",
        "CAP_SYS_MODULE",
        "sys_module",
    ],
)
def test_capabilities_beyond_the_baseline_are_refused(capability):
    container = cpu_container(
        securityContext={"allowPrivilegeEscalation": False, "capabilities": {"add": [capability]}}
    )
    [message] = rules.privilege_violations(DEPLOYMENT, web(containers=[container]))
    expected = capability.upper().removeprefix("CAP_")
    assert f"container 'app' adds ['{expected}']" in message


@pytest.mark.parametrize(
    "context",
    [{}, {"allowPrivilegeEscalation": None}, {"capabilities": {"drop": ["ALL"]}}],
    ids=["no-field", "null", "caps-only"],
)
def test_a_container_that_leaves_escalation_unset_is_refused(context):
    for kind in ("containers", "initContainers", "ephemeralContainers"):
        containers = {"containers": [cpu_container()], kind: [cpu_container(name="unset", securityContext=context)]}
        [message] = rules.privilege_violations(JOB, workload(JOB, "j", containers).props)
        assert "container 'unset' leaves allowPrivilegeEscalation unset" in message, kind
    bare = {"name": "bare", "image": "busybox"}
    [message] = rules.privilege_violations(POD, workload(POD, "p", {"containers": [bare]}).props)
    assert "'bare' leaves allowPrivilegeEscalation unset" in message


def test_values_unknown_during_preview_are_left_for_up():
    unknown_context = cpu_container(securityContext=rules.UNKNOWN)
    unknown_escalation = cpu_container(securityContext={"allowPrivilegeEscalation": rules.UNKNOWN})
    unknown_caps = cpu_container(
        securityContext={"allowPrivilegeEscalation": False, "capabilities": {"add": rules.UNKNOWN}}
    )
    for container in (unknown_context, unknown_escalation, unknown_caps):
        assert rules.privilege_violations(DEPLOYMENT, web(containers=[container])) == []
    assert (
        rules.privilege_violations(DEPLOYMENT, web(volumes=[{"name": "h", "hostPath": {"path": rules.UNKNOWN}}])) == []
    )


# --- The device plugin with MIG (issue 8) ------------------------------------------------------------


def mig_plugin(
    strategy: str | None = "single",
    escalation: Any = "unset",
    add: tuple[str, ...] = ("SYS_ADMIN",),
    image: str | None = None,
) -> dict[str, Any]:
    """The program's device plugin DaemonSet as NVIDIA's chart runs it with a MIG strategy."""

    def edit(props):
        container = pod_spec_of(props)["containers"][0]
        if image:
            container["image"] = image
        if strategy is not None:
            container["env"] = [
                {"name": device_plugin.MIG_STRATEGY_ENV, "value": strategy},
                {"name": device_plugin.MIG_MONITOR_ENV[0], "value": device_plugin.MIG_MONITOR_ENV[1]},
            ]
        context = container["securityContext"]
        context["capabilities"]["add"] = list(add)
        if escalation == "unset":
            context.pop("allowPrivilegeEscalation", None)
        else:
            context["allowPrivilegeEscalation"] = escalation

    return edited(find(dev_stack(), DAEMONSET), edit)


@pytest.mark.parametrize("strategy", ["single", "mixed"])
@pytest.mark.parametrize("escalation", ["unset", True], ids=["escalation-unset", "escalation-true"])
def test_the_mig_device_plugin_may_add_sys_admin(strategy, escalation):
    assert rules.privilege_violations(DAEMONSET, mig_plugin(strategy, escalation)) == []


@pytest.mark.parametrize(
    ("plugin", "fragment"),
    [
        (dict(strategy=None), "The NVIDIA device plugin needs SYS_ADMIN only with MIG_STRATEGY"),
        (dict(strategy="none"), "['SYS_ADMIN']"),
        (dict(strategy="Single"), "['SYS_ADMIN']"),
        (dict(add=("SYS_ADMIN", "SYS_MODULE")), "['SYS_MODULE']"),
        (dict(add=("ALL",)), "['ALL']"),
        (dict(add=()), "allowPrivilegeEscalation unset"),
        (dict(image="docker.io/library/busybox:1.36"), "['SYS_ADMIN']"),
    ],
    ids=[
        "no-strategy",
        "strategy-none",
        "strategy-wrong-case",
        "more-than-sys-admin",
        "all",
        "escalation-without-sys-admin",
        "not-the-plugins-image",
    ],
)
def test_sys_admin_is_refused_everywhere_else(plugin, fragment):
    first, *rest = rules.privilege_violations(DAEMONSET, mig_plugin(**plugin))
    assert fragment in first
    # Without the plugin's image, the socket directory is no longer the plugin's either.
    assert [m.split(": ", 1)[1].split(" mounts")[0] for m in rest] == (
        ["volume 'device-plugin'"] if "image" in plugin else []
    )


def test_the_mig_exemption_is_per_container_and_not_for_privileged():
    props = mig_plugin()
    sidecar = cpu_container(
        name="sidecar", securityContext={"allowPrivilegeEscalation": False, "capabilities": {"add": ["SYS_ADMIN"]}}
    )
    pod_spec_of(props)["containers"].append(sidecar)
    [message] = rules.privilege_violations(DAEMONSET, props)
    assert "container 'sidecar' adds ['SYS_ADMIN']" in message
    privileged = mig_plugin()
    pod_spec_of(privileged)["containers"][0]["securityContext"]["privileged"] = True
    [message] = rules.privilege_violations(DAEMONSET, privileged)
    assert "is privileged" in message
    a_workload = workload(DEPLOYMENT, "w", pod_spec_of(mig_plugin()))
    assert rules.privilege_violations(DEPLOYMENT, a_workload.props) == []  # the exemption follows the image


def test_a_mig_strategy_unknown_during_preview_is_left_for_up():
    props = mig_plugin()
    pod_spec_of(props)["containers"][0]["env"] = rules.UNKNOWN
    assert rules.privilege_violations(DAEMONSET, props) == []

"""Entra ID clusters under the mock engine: the cluster's settings, the deployer's role
assignment and what waits for it, and the kubeconfig every consumer gets."""

from __future__ import annotations

import uuid

import pytest
import yaml

from aks_gpu.config.project import SettingsError
from aks_gpu.facts.entra import AKS_RBAC_CLUSTER_ADMIN_ROLE_ID, AKS_SERVER_APP_ID, NON_INTERACTIVE_LOGINS
from tests.support.harness import (
    FAKE_CLIENT_CONFIG,
    FAKE_ENTRA_KUBECONFIG,
    FAKE_KUBECONFIG,
    FAKE_TENANT,
    Run,
    is_secret,
    run_program,
)

CLUSTER = "azure-native:containerservice:ManagedCluster"
ROLE_ASSIGNMENT = "azure-native:authorization:RoleAssignment"
DYNAMIC = "pulumi-python:dynamic:Resource"
K8S_PROVIDER = "pulumi:providers:kubernetes"
KUBERNETES_OBJECTS = ("kubernetes:core/v1:Namespace", "kubernetes:apps/v1:DaemonSet", "kubernetes:batch/v1:Job")
GROUP_A = "1f2e3d4c-5b6a-4978-8695-a4b3c2d1e0f9"
GROUP_B = "ABCDEF01-2345-4678-9ABC-DEF012345678"
ENTRA = {"entraId": True, "entraAdminGroupObjectIds": [GROUP_A, GROUP_B]}
EXISTING = {
    "resourceGroupName": "",
    "clusterName": "",
    "existingClusterName": "prodAKS",
    "existingClusterResourceGroup": "prod-rg",
}


@pytest.fixture(scope="module")
def entra() -> Run:
    return run_program(ENTRA, user_kubeconfig=FAKE_ENTRA_KUBECONFIG)


def provider_user(run: Run) -> dict:
    """The Kubernetes provider's kubeconfig user (the provider input is a secret)."""
    provider = run.one(K8S_PROVIDER)
    assert is_secret(provider.inputs["kubeconfig"])
    config = yaml.safe_load(provider.plain_inputs["kubeconfig"])
    [user] = config["users"]
    return user["user"]


def dynamic(run: Run, suffix: str):
    return next(r for r in run.all(DYNAMIC) if r.name.endswith(suffix))


def test_new_entra_cluster_uses_managed_entra_id_azure_rbac_and_no_local_accounts(entra):
    props = entra.one(CLUSTER).plain_inputs
    assert props["aadProfile"] == {
        "managed": True,
        "enableAzureRBAC": True,
        "adminGroupObjectIDs": [GROUP_A, GROUP_B.lower()],
    }
    assert props["disableLocalAccounts"] is True
    assert props["enableRBAC"] is True


def test_without_entra_id_the_cluster_keeps_local_accounts():
    props = run_program().one(CLUSTER).plain_inputs
    assert "aadProfile" not in props and "disableLocalAccounts" not in props


def test_the_deployer_becomes_cluster_admin_under_a_stable_name(entra):
    assignment = entra.one(ROLE_ASSIGNMENT)
    props = assignment.plain_inputs
    cluster = entra.one(CLUSTER)
    scope = f"{cluster.name}-id"  # the mock engine's ID of the cluster
    assert props["scope"] == scope
    assert props["principalId"] == FAKE_CLIENT_CONFIG["objectId"]
    assert props["principalType"] == "User"  # az login as a person
    assert props["roleDefinitionId"] == (
        f"/subscriptions/{FAKE_CLIENT_CONFIG['subscriptionId']}/providers/Microsoft.Authorization/"
        f"roleDefinitions/{AKS_RBAC_CLUSTER_ADMIN_ROLE_ID}"
    )
    name = props["roleAssignmentName"]
    assert uuid.UUID(name)
    # Derived, not random: a second run names the same assignment.
    again = run_program(ENTRA, user_kubeconfig=FAKE_ENTRA_KUBECONFIG).one(ROLE_ASSIGNMENT)
    assert again.plain_inputs["roleAssignmentName"] == name
    assert any(entra.by_urn(urn).type == CLUSTER for urn in assignment.dependencies)


def test_a_pipeline_identity_is_assigned_as_a_service_principal():
    pipeline = {**FAKE_CLIENT_CONFIG, "clientId": "d9b5c4a3-0000-4000-8000-00000000c1c1"}
    run = run_program(ENTRA, user_kubeconfig=FAKE_ENTRA_KUBECONFIG, client_config=pipeline)
    assert run.one(ROLE_ASSIGNMENT).plain_inputs["principalType"] == "ServicePrincipal"


def test_kubernetes_objects_and_checks_wait_for_the_assignment_and_the_access_check(entra):
    assignment = entra.one(ROLE_ASSIGNMENT)
    access = dynamic(entra, "-kubernetes-access")
    assert assignment.urn in access.dependencies
    assert access.plain_inputs["timeoutSeconds"] >= 300
    assert is_secret(access.inputs["kubeconfig"])
    provider = entra.one(K8S_PROVIDER)
    assert {assignment.urn, access.urn} <= set(provider.dependencies)
    for type_ in KUBERNETES_OBJECTS:
        assert entra.one(type_).provider.startswith(provider.urn + "::"), type_
    # The checks read the kubeconfig output, which carries the access check as a dependency.
    for check in ("-capacity", "-result"):
        assert access.urn in dynamic(entra, check).dependencies, check


def test_no_role_assignment_or_access_check_without_entra_id():
    run = run_program()
    assert run.all(ROLE_ASSIGNMENT) == []
    assert not [r for r in run.all(DYNAMIC) if r.name.endswith("-kubernetes-access")]


def test_the_provider_logs_in_with_the_azure_cli_by_default(entra):
    exec_ = provider_user(entra)["exec"]
    assert exec_["command"] == "kubelogin"
    assert exec_["args"] == ["get-token", "--login", "azurecli", "--server-id", AKS_SERVER_APP_ID]
    assert exec_["apiVersion"] == "client.authentication.k8s.io/v1beta1"
    assert "fake hint kept by conversion" in exec_["installHint"]
    # The checks and the stack output get the same converted kubeconfig, as secrets.
    assert is_secret(entra.outputs["kubeconfig"])
    assert "devicecode" not in entra.output("kubeconfig")
    capacity = dynamic(entra, "-capacity")
    assert is_secret(capacity.inputs["kubeconfig"])
    assert capacity.plain_inputs["kubeconfig"] == entra.one(K8S_PROVIDER).plain_inputs["kubeconfig"]


# What kubelogin's converter writes for each mode given only `-l MODE`
# (Azure/kubelogin pkg/internal/converter/convert.go).
EXPECTED_EXTRA_ARGS = {
    "azurecli": [],
    "azd": [],
    "msi": [],
    "workloadidentity": [],
    "spn": [
        "--client-id",
        "80faf920-1908-4b52-b5ef-a8e7bedfc67a",
        "--tenant-id",
        FAKE_TENANT,
        "--environment",
        "AzurePublicCloud",
    ],
    "azurepipelines": ["--tenant-id", FAKE_TENANT],
}


@pytest.mark.parametrize("mode", sorted(NON_INTERACTIVE_LOGINS))
def test_each_login_mode_gets_kubelogins_own_arguments(mode):
    run = run_program({**ENTRA, "kubeloginMode": mode}, user_kubeconfig=FAKE_ENTRA_KUBECONFIG)
    exec_ = provider_user(run)["exec"]
    assert exec_["args"] == ["get-token", "--login", mode, "--server-id", AKS_SERVER_APP_ID] + EXPECTED_EXTRA_ARGS[mode]
    assert exec_["env"] is None
    assert "devicecode" not in run.one(K8S_PROVIDER).plain_inputs["kubeconfig"]


def test_an_existing_entra_cluster_gets_its_devicecode_kubeconfig_converted():
    run = run_program({**EXISTING, "kubeloginMode": "workloadidentity"}, user_kubeconfig=FAKE_ENTRA_KUBECONFIG)
    exec_ = provider_user(run)["exec"]
    assert exec_["args"] == ["get-token", "--login", "workloadidentity", "--server-id", AKS_SERVER_APP_ID]
    assert "devicecode" not in run.output("kubeconfig")
    assert is_secret(run.outputs["kubeconfig"])
    # An existing cluster's access is its owners' business: no role assignment, no wait.
    assert run.all(ROLE_ASSIGNMENT) == []
    assert not [r for r in run.all(DYNAMIC) if r.name.endswith("-kubernetes-access")]


@pytest.mark.parametrize("overrides", [EXISTING, {"kubeloginMode": "azurepipelines"}], ids=["existing", "new"])
def test_a_local_account_kubeconfig_passes_unchanged(overrides):
    run = run_program(overrides, user_kubeconfig=FAKE_KUBECONFIG)
    assert run.one(K8S_PROVIDER).plain_inputs["kubeconfig"] == FAKE_KUBECONFIG


@pytest.mark.parametrize(
    "overrides, fragments",
    [
        ({**ENTRA, "kubeloginMode": "devicecode"}, ["aks-gpu:kubeloginMode", "devicecode", "azurecli"]),
        ({**ENTRA, "kubeloginMode": "interactive"}, ["aks-gpu:kubeloginMode", "browser"]),
        ({**ENTRA, "kubeloginMode": "ropc"}, ["aks-gpu:kubeloginMode", "password"]),
        ({**ENTRA, "kubeloginMode": "magic"}, ["aks-gpu:kubeloginMode", "one of azurecli"]),
        ({"entraId": True, "entraAdminGroupObjectIds": ["gpu-admins"]}, ["entraAdminGroupObjectIds", "GUID"]),
        ({"entraId": True, "entraAdminGroupObjectIds": [GROUP_A + "0"]}, ["entraAdminGroupObjectIds", "GUID"]),
        ({"entraAdminGroupObjectIds": [GROUP_A]}, ["entraAdminGroupObjectIds", "entraId is false"]),
        ({**EXISTING, "entraId": True}, ["entraId", "existingClusterName"]),
    ],
    ids=["devicecode", "interactive", "ropc", "unknown", "group-name", "long-guid", "groups-only", "existing"],
)
def test_bad_access_settings_register_nothing(overrides, fragments):
    with pytest.raises(SettingsError) as error:
        run_program(overrides, user_kubeconfig=FAKE_ENTRA_KUBECONFIG)
    for fragment in fragments:
        assert fragment in str(error.value), fragment
    assert error.value.run.resources == []


def test_preview_of_a_new_entra_stack_plans_the_assignment_and_the_wait():
    run = run_program(ENTRA, preview=True, user_kubeconfig=FAKE_ENTRA_KUBECONFIG)
    # Only the deployer's identity is read at preview; the cluster's credentials are not.
    assert [token for token, _ in run.invokes] == ["azure-native:authorization:getClientConfig"]
    assert run.one(ROLE_ASSIGNMENT).plain_inputs["principalId"] == FAKE_CLIENT_CONFIG["objectId"]
    assert dynamic(run, "-kubernetes-access")

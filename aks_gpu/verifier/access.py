"""Wait until the cluster's authorizer lets the kubeconfig's identity act: role assignments take minutes.

A new Azure role assignment reaches an AKS cluster's authorizer after a delay
(AKS documents up to five minutes). Until then every Kubernetes request of the
deploying identity is refused with 403. `wait_for_access` asks the API server
with SelfSubjectAccessReviews, which any signed-in identity may create, until
the answer is "allowed" or the deadline passes.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import kubernetes.client
from kubernetes.client.exceptions import ApiException

from aks_gpu.verifier.errors import (
    TRANSIENT_STATUSES,
    TRANSPORT_ERRORS,
    ClusterAccessError,
    access_error,
    describe,
)

POLL_SECONDS = 5.0


def _allowed(api: kubernetes.client.AuthorizationV1Api, verb: str, resource: str, group: str) -> bool:
    review = kubernetes.client.V1SelfSubjectAccessReview(
        spec=kubernetes.client.V1SelfSubjectAccessReviewSpec(
            resource_attributes=kubernetes.client.V1ResourceAttributes(verb=verb, resource=resource, group=group)
        )
    )
    answer = api.create_self_subject_access_review(review, _request_timeout=(10.0, 30.0))
    return bool(answer.status and answer.status.allowed)


def _ask(api: kubernetes.client.AuthorizationV1Api, verb: str, resource: str, group: str) -> tuple[bool, str]:
    """(allowed, why not) for one review; raises for errors that waiting cannot fix."""
    try:
        return _allowed(api, verb, resource, group), "the authorizer does not allow it yet"
    except ApiException as error:
        if error.status == 403:
            return False, "HTTP 403 Forbidden"
        if error.status in TRANSIENT_STATUSES:
            return False, describe(error)
        raise access_error(
            error, f"{verb} {resource}", f"'{verb}' on '{resource}'", api.api_client.configuration
        ) from None
    except TRANSPORT_ERRORS as error:
        return False, describe(error)


def wait_for_access(
    api: kubernetes.client.ApiClient,
    timeout: float,
    *,
    verb: str = "create",
    resource: str = "namespaces",
    group: str = "",
    progress: Callable[[str], None] | None = None,
    poll: float = POLL_SECONDS,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Wait until the identity may `verb` `resource`; returns how many reviews it took.

    Raises ClusterAccessError when the deadline passes first, or at once for a
    401 (the credentials themselves are refused: waiting will not help).
    """
    authorization = kubernetes.client.AuthorizationV1Api(api)
    end = clock() + timeout
    reviews = 0
    announced = False
    while True:
        reviews += 1
        allowed, why = _ask(authorization, verb, resource, group)
        if allowed:
            return reviews
        remaining = end - clock()
        if remaining <= 0:
            raise ClusterAccessError(
                f"After {timeout:g}s the kubeconfig's identity still may not {verb} {resource} ({why}). "
                "The Azure role assignment that grants it has not reached the cluster's authorizer, was "
                "removed, or is denied by a deny assignment; check it with `az role assignment list --scope "
                "<cluster ID>` and run pulumi up again."
            )
        if progress and not announced:
            progress(f"Waiting up to {timeout:g}s for the cluster to allow {verb} {resource} ({why})")
            announced = True
        sleep(min(poll, remaining))

"""Outputs the cloud would compute, synthesised for the offline mock runtime.

The mock engine echoes a resource's inputs back as its state; some resources need outputs
that only the cloud knows (an EKS endpoint, a certificate authority, an ARN). Values here are
deterministic functions of the type and name so two previews give the same bytes.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable

Synthesizer = Callable[[str, dict], dict]

SYNTHESIZERS: dict[str, Synthesizer] = {}
"""Type token -> function (name, inputs) -> extra output properties."""


def synthesize(type_: str, name: str, inputs: dict) -> dict:
    """Return the extra outputs for one resource (empty when the type needs none)."""
    fn = SYNTHESIZERS.get(type_)
    return fn(name, inputs) if fn else {}


# --- cloud synthesizers -------------------------------------------------------------------
#
# Account, project number and addresses below are documentation placeholders: the account id
# is the one AWS uses in its examples, the addresses come from TEST-NET ranges (RFC 5737).

MOCK_ACCOUNT_ID = "123456789012"
MOCK_PROJECT_NUMBER = "100000000001"
DEFAULT_REGION = "us-east-1"

CALL_SYNTHESIZERS: dict[str, Synthesizer] = {}
"""Invoke token -> function (token, args) -> result properties."""


def synthesize_call(token: str, args: dict) -> dict:
    """Return the result of one provider function (empty when the token needs none)."""
    fn = CALL_SYNTHESIZERS.get(token)
    return fn(token, args) if fn else {}


def _digest(*parts: str, n: int = 16) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:n]


def _ip(*parts: str) -> str:
    """A stable address in 203.0.113.0/24 (TEST-NET-3) for a resource."""
    return f"203.0.113.{int(_digest(*parts, n=4), 16) % 254 + 1}"


def _region(inputs: dict) -> str:
    return inputs.get("region") or DEFAULT_REGION


def _register(*types: str) -> Callable[[Synthesizer], Synthesizer]:
    def deco(fn: Synthesizer) -> Synthesizer:
        for t in types:
            SYNTHESIZERS[t] = fn
        return fn

    return deco


def _arn(service: str, region: str, resource: str) -> str:
    return f"arn:aws:{service}:{region}:{MOCK_ACCOUNT_ID}:{resource}"


@_register("aws:eks/cluster:Cluster")
def _eks_cluster(name: str, inputs: dict) -> dict:
    cluster = inputs.get("name") or name
    region = _region(inputs)
    h = _digest("eks", region, cluster, n=32).upper()
    return {
        "name": cluster,
        "arn": _arn("eks", region, f"cluster/{cluster}"),
        "endpoint": f"https://{h}.gr7.{region}.eks.amazonaws.com",
        "certificateAuthority": {"data": base64.b64encode(f"mock-ca:{cluster}".encode()).decode()},
        "identities": [{"oidcs": [{"issuer": f"https://oidc.eks.{region}.amazonaws.com/id/{h}"}]}],
        "status": "ACTIVE",
    }


@_register("aws:eks/nodeGroup:NodeGroup")
def _eks_node_group(name: str, inputs: dict) -> dict:
    region = _region(inputs)
    ng = inputs.get("nodeGroupName") or name
    return {
        "nodeGroupName": ng,
        "arn": _arn("eks", region, f"nodegroup/{inputs.get('clusterName', '')}/{ng}"),
    }


@_register("aws:iam/role:Role")
def _iam_role(name: str, inputs: dict) -> dict:
    role = inputs.get("name") or name
    return {"name": role, "arn": f"arn:aws:iam::{MOCK_ACCOUNT_ID}:role/{role}"}


@_register("aws:iam/policy:Policy")
def _iam_policy(name: str, inputs: dict) -> dict:
    policy = inputs.get("name") or name
    return {"name": policy, "arn": f"arn:aws:iam::{MOCK_ACCOUNT_ID}:policy/{policy}"}


@_register("random:index/randomPassword:RandomPassword")
def _random_password(name: str, inputs: dict) -> dict:
    # A deterministic stand-in of the asked length; it is a secret output, never shown.
    length = int(inputs.get("length") or 16)
    return {"result": (_digest("password", name, n=64) * 4)[:length]}


@_register("aws:iam/openIdConnectProvider:OpenIdConnectProvider")
def _oidc_provider(name: str, inputs: dict) -> dict:
    host = str(inputs.get("url", name)).removeprefix("https://")
    return {"arn": f"arn:aws:iam::{MOCK_ACCOUNT_ID}:oidc-provider/{host}"}


@_register("aws:kms/key:Key")
def _kms_key(name: str, inputs: dict) -> dict:
    key_id = _digest("kms", name, n=32)
    key_id = f"{key_id[:8]}-{key_id[8:12]}-{key_id[12:16]}-{key_id[16:20]}-{key_id[20:32]}"
    return {"keyId": key_id, "arn": _arn("kms", _region(inputs), f"key/{key_id}")}


@_register("aws:ec2/eip:Eip")
def _eip(name: str, inputs: dict) -> dict:
    return {
        "allocationId": f"eipalloc-{_digest('eip', name, n=17)}",
        "publicIp": _ip("eip", name),
    }


@_register("aws:ec2/launchTemplate:LaunchTemplate")
def _launch_template(name: str, inputs: dict) -> dict:
    return {"latestVersion": 1, "arn": _arn("ec2", _region(inputs), f"launch-template/{name}")}


@_register("aws:ecr/repository:Repository")
def _ecr_repository(name: str, inputs: dict) -> dict:
    repo = inputs.get("name") or name
    region = _region(inputs)
    return {
        "name": repo,
        "registryId": MOCK_ACCOUNT_ID,
        "arn": _arn("ecr", region, f"repository/{repo}"),
        "repositoryUrl": f"{MOCK_ACCOUNT_ID}.dkr.ecr.{region}.amazonaws.com/{repo}",
    }


@_register("aws:route53/zone:Zone")
def _route53_zone(name: str, inputs: dict) -> dict:
    zone_id = "Z" + _digest("zone", str(inputs.get("name", name)), n=20).upper()
    return {
        "zoneId": zone_id,
        "arn": f"arn:aws:route53:::hostedzone/{zone_id}",
        "nameServers": [f"ns-{i}.awsdns-{i:02d}.org" for i in range(1, 5)],
    }


@_register("aws:route53/healthCheck:HealthCheck")
def _route53_health_check(name: str, inputs: dict) -> dict:
    return {"arn": f"arn:aws:route53:::healthcheck/{_digest('hc', name, n=36)}"}


@_register("gcp:container/cluster:Cluster")
def _gke_cluster(name: str, inputs: dict) -> dict:
    cluster = inputs.get("name") or name
    return {
        "name": cluster,
        "endpoint": f"10.{int(_digest('gke', cluster, n=2), 16)}.0.2",
        "masterAuth": {
            "clusterCaCertificate": base64.b64encode(f"mock-ca:{cluster}".encode()).decode(),
            "clientCertificateConfig": {"issueClientCertificate": False},
        },
        "selfLink": f"https://container.googleapis.com/v1/projects/{inputs.get('project')}"
        f"/locations/{inputs.get('location')}/clusters/{cluster}",
    }


@_register("gcp:serviceaccount/account:Account")
def _gcp_service_account(name: str, inputs: dict) -> dict:
    account = inputs.get("accountId") or name
    email = f"{account}@{inputs.get('project')}.iam.gserviceaccount.com"
    return {
        "email": email,
        "member": f"serviceAccount:{email}",
        "name": f"projects/{inputs.get('project')}/serviceAccounts/{email}",
    }


@_register("gcp:compute/address:Address")
def _gcp_address(name: str, inputs: dict) -> dict:
    return {"address": _ip("gcp-address", str(inputs.get("name", name)))}


@_register("gcp:kms/cryptoKey:CryptoKey")
def _gcp_crypto_key(name: str, inputs: dict) -> dict:
    return {"name": inputs.get("name") or name}


def _gcp_get_project(token: str, args: dict) -> dict:
    project = args.get("projectId") or "mock-project"
    return {"projectId": project, "number": MOCK_PROJECT_NUMBER, "name": project}


def _aws_caller_identity(token: str, args: dict) -> dict:
    return {
        "accountId": MOCK_ACCOUNT_ID,
        "arn": f"arn:aws:iam::{MOCK_ACCOUNT_ID}:user/preview",
        "userId": "PREVIEW",
    }


CALL_SYNTHESIZERS["gcp:organizations/getProject:getProject"] = _gcp_get_project
CALL_SYNTHESIZERS["aws:index/getCallerIdentity:getCallerIdentity"] = _aws_caller_identity

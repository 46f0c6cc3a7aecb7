"""Where the proxy is and who the caller is: the standard OpenStack client
configuration (clouds.yaml, OS_* variables) through openstacksdk's loader,
or a static endpoint and token."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from keystoneauth1 import exceptions as ks_exceptions
from keystoneauth1 import session as ks_session
from keystoneauth1 import token_endpoint

from vnext_proxy import __version__
from vnext_proxy.client.api import ClientError, VNext

#: vNext has no type in the service-types authority; the proxy's README
#: registers it under this one, and --service-type names another.
DEFAULT_SERVICE_TYPE = "compute-vnext"


@dataclass(frozen=True)
class Options:
    os_cloud: str | None = None
    #: Whether --os-cloud was on the command line (OS_CLOUD in the
    #: environment does not outweigh an explicit --endpoint and token).
    os_cloud_given: bool = False
    region_name: str | None = None
    interface: str | None = None
    service_type: str = DEFAULT_SERVICE_TYPE
    endpoint: str | None = None
    token: str | None = None
    token_given: bool = False
    timeout: float = 60.0


def connect(options: Options) -> VNext:
    """The proxy, found as ``options`` say:

    - ``--endpoint`` with a token (``--token`` or OS_TOKEN), and no
      ``--os-cloud`` on the command line: that URL, with that token;
    - otherwise the cloud openstacksdk's loader names (``--os-cloud``,
      OS_CLOUD, or the OS_* variables), signed in through keystoneauth1,
      and the endpoint ``--endpoint`` gives, or else clouds.yaml's
      ``<service_type>_endpoint_override``, or else the catalog's endpoint
      of ``--service-type``.
    """
    if options.token_given and options.os_cloud_given:
        raise ClientError("--token and --os-cloud name two different credentials; give one of them")
    if options.endpoint and options.token and not options.os_cloud_given:
        session = ks_session.Session(
            auth=token_endpoint.Token(options.endpoint, options.token),
            timeout=options.timeout,
            app_name="vnext",
            app_version=__version__,
        )
        return VNext(session, options.endpoint)
    if options.token_given:
        raise ClientError("--token is for a static --endpoint; with a cloud, put the token in clouds.yaml")
    return _from_cloud(options)


def _from_cloud(options: Options) -> VNext:
    try:
        # Imported here: only this way of connecting needs openstacksdk,
        # which is the optional extra `client` (see pyproject.toml).
        from openstack import exceptions as sdk_exceptions
        from openstack.config import OpenStackConfig
    except ImportError as exc:
        raise ClientError(
            "reading clouds.yaml and OS_* variables needs openstacksdk: pip install 'vnext-proxy[client]' "
            "(or give --endpoint and --token)"
        ) from exc
    overrides: dict[str, Any] = {
        key: value
        for key, value in (("region_name", options.region_name), ("interface", options.interface))
        if value is not None
    }
    try:
        loader = OpenStackConfig(app_name="vnext", app_version=__version__)
        cloud = loader.get_one(cloud=options.os_cloud, **overrides)
        session = cloud.get_session()
        session.timeout = options.timeout
        endpoint = (
            options.endpoint
            or cloud.get_endpoint(options.service_type)
            or cloud.get_endpoint_from_catalog(options.service_type)
        )
        project_id = session.get_project_id()
    except (sdk_exceptions.SDKException, ks_exceptions.ClientException) as exc:
        where = f"cloud {options.os_cloud!r}" if options.os_cloud else "the OS_* variables and clouds.yaml"
        hint = ""
        if not options.os_cloud:
            hint = (
                "; give --token (or OS_TOKEN) with --endpoint"
                if options.endpoint
                else "; name a cloud of clouds.yaml with --os-cloud, set OS_AUTH_URL and the other OS_* variables, "
                "or give --endpoint and --token"
            )
        raise ClientError(f"cannot sign in with {where}: {exc}{hint}") from exc
    if not endpoint:
        interface = cloud.get_interface(options.service_type) or "public"
        region = cloud.get_region_name(options.service_type) or "any region"
        raise ClientError(
            f"the catalog has no {options.service_type!r} endpoint ({interface}, {region}): "
            "name the proxy's service type with --service-type, or its URL with --endpoint"
        )
    return VNext(session, endpoint, project_id=project_id)

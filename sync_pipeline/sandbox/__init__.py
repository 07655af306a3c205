"""The emulated CRMs: WebCRM (after the vendor spec) and CRMOffice (our documented assumption).

with running_sandbox(SandboxSettings(webcrm_port=0, crmoffice_port=0)) as sandbox:
    sandbox.webcrm_url, sandbox.crmoffice_url      # "http://127.0.0.1:PORT"
    sandbox.webcrm.edit("Persons", 1000, {...})    # act as a user in the CRM's UI
    sandbox.stats()                                # {"webcrm": {...}, "crmoffice": {...}}
    sandbox.hooks                                  # WebCRM's registered hooks (HookBook)
"""

from __future__ import annotations

from sync_pipeline.sandbox.crmoffice_app import create_crmoffice_app
from sync_pipeline.sandbox.crmoffice_state import CrmofficeState
from sync_pipeline.sandbox.crmoffice_validation import InvalidBody
from sync_pipeline.sandbox.faults import FaultSettings
from sync_pipeline.sandbox.hook_delivery import DeliveryPolicy
from sync_pipeline.sandbox.server import RunningSandbox, SandboxSettings, running_sandbox
from sync_pipeline.sandbox.stats import RequestStats
from sync_pipeline.sandbox.webcrm_app import DEFAULT_AUTH_CODE, create_webcrm_app
from sync_pipeline.sandbox.webcrm_hooks import HookBook
from sync_pipeline.sandbox.webcrm_state import WebcrmState

__all__ = [
    "DEFAULT_AUTH_CODE",
    "CrmofficeState",
    "DeliveryPolicy",
    "FaultSettings",
    "HookBook",
    "InvalidBody",
    "RequestStats",
    "RunningSandbox",
    "SandboxSettings",
    "WebcrmState",
    "create_crmoffice_app",
    "create_webcrm_app",
    "running_sandbox",
]

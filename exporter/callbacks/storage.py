"""The vendor's storage Region table: ``StorageConfig`` codes to platform and region names.

``StartRecord`` (and the snapshot and segment tasks) name where recordings go with a two-level
code: ``Type`` picks the platform (0 Volcengine TOS, 1 Volcengine VOD, 2 a third-party
S3-compatible store whose ``CustomConfig.Vendor`` picks the vendor, 3 VeImageX for snapshots),
then ``Region`` is an index into that platform's row of the vendor's Region table (the appendix
"Region 对照表" of the RTC OpenAPI docs, updated 2025-04-14). The table is data here, in one
place; ``tests/test_callbacks_storage.py`` checks every row of the vendor's table is in it.

The table's notes mark some regions as not supported yet (Amazon S3 7, 9, 17, 23; Aliyun OSS 16)
and warn that a region that does not match the bucket "may make the upload fail". A code outside
the table decodes to ``unknown_<code>`` (never an error): the vendor adds regions over time.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "PLATFORMS",
    "REGIONS",
    "UNKNOWN",
    "UNSUPPORTED",
    "StorageInfo",
    "decode_storage",
    "platform_of",
]

# (Type, Vendor) -> platform label; Vendor is None for the first-party platforms
PLATFORMS: dict[tuple[int, int | None], str] = {
    (0, None): "tos",
    (1, None): "vod",
    (2, 0): "s3",
    (2, 1): "aliyun_oss",
    (2, 2): "huawei_obs",
    (2, 3): "tencent_cos",
    (2, 4): "qiniu_kodo",
    (3, None): "veimagex",
}

# platform -> region code -> region name, exactly as the vendor's Region table lists them
REGIONS: dict[str, dict[int, str]] = {
    "tos": {0: "cn-beijing", 1: "cn-guangzhou", 2: "cn-shanghai", 3: "ap-southeast-1"},
    "vod": {0: "cn-north-1", 1: "ap-southeast-1"},
    "s3": {
        0: "us-east-1", 1: "us-east-2", 2: "us-west-1", 3: "us-west-2", 4: "eu-west-1",
        5: "eu-west-2", 6: "eu-west-3", 7: "eu-central-1", 8: "ap-southeast-1",
        9: "ap-southeast-2", 10: "ap-northeast-1", 11: "ap-northeast-2", 12: "sa-east-1",
        13: "ca-central-1", 14: "ap-south-1", 15: "cn-north-1", 16: "cn-northwest-1",
        17: "us-gov-east-1", 18: "ap-east-1", 19: "eu-south-1", 20: "ap-northeast-3",
        21: "eu-north-1", 22: "me-south-1", 23: "us-gov-west-1", 24: "af-south-1",
    },
    "aliyun_oss": {
        0: "oss-cn-hangzhou", 1: "oss-cn-shanghai", 2: "oss-cn-qingdao", 3: "oss-cn-beijing",
        4: "oss-cn-zhangjiakou", 5: "oss-cn-huhehaote", 6: "oss-cn-wulanchabu",
        7: "oss-cn-shenzhen", 8: "oss-cn-heyuan", 9: "oss-cn-guangzhou", 10: "oss-cn-chengdu",
        11: "oss-cn-hongkong", 12: "oss-us-west-1", 13: "oss-us-east-1",
        14: "oss-ap-southeast-1", 15: "oss-ap-southeast-2", 16: "oss-ap-southeast-3",
        17: "oss-ap-southeast-5", 18: "oss-ap-northeast-1", 19: "oss-ap-south-1",
        20: "oss-eu-central-1", 21: "oss-eu-west-1", 22: "oss-me-east-1",
        23: "oss-ap-southeast-6",
    },
    # sparse: the vendor lists only these codes (there is no 0: Region must be given)
    "huawei_obs": {
        1: "cn-north-4", 3: "cn-north-9", 5: "cn-east-3", 6: "cn-south-1", 11: "cn-southwest-2",
        14: "ap-southeast-1",
    },
    "tencent_cos": {
        1: "ap-beijing", 2: "ap-nanjing", 3: "ap-shanghai", 4: "ap-guangzhou", 5: "ap-chengdu",
        6: "ap-chongqing", 7: "ap-shenzhen-fsi", 8: "ap-shanghai-fsi", 9: "ap-beijing-fsi",
        10: "ap-hongkong",
    },
    "qiniu_kodo": {0: "cn-east-1", 1: "cn-east-2", 2: "cn-north-1", 3: "cn-south-1"},
    "veimagex": {0: "cn-north-1", 1: "ap-singapore-1"},
}  # fmt: skip

# the table's notes: "7，9，17，23 对应地域暂不支持" (S3), "16 对应地域暂不支持" (OSS)
UNSUPPORTED: dict[str, frozenset[int]] = {
    "s3": frozenset({7, 9, 17, 23}),
    "aliyun_oss": frozenset({16}),
}


@dataclass(frozen=True)
class StorageInfo:
    """A decoded storage configuration: the labels, whether the vendor supports it, and why
    uploads may fail (None when the table knows the code and supports it)."""

    platform: str
    region: str
    supported: bool
    problem: str | None = None


UNKNOWN = StorageInfo("unknown", "unknown", True)


def platform_of(type_: int, vendor: int | None) -> str | None:
    """The platform label of ``Type`` (and ``Vendor`` for type 2), None when unknown."""
    return PLATFORMS.get((type_, vendor if type_ == 2 else None))


def decode_storage(type_: int, vendor: int | None, region: int) -> StorageInfo:
    """Decode ``StorageConfig`` codes; never raises. ``vendor`` only matters for type 2
    (the vendor's default there is 0, Amazon S3)."""
    if type_ == 2 and vendor is None:
        vendor = 0
    platform = platform_of(type_, vendor)
    if platform is None:
        what = f"type {type_}" + (f" vendor {vendor}" if type_ == 2 else "")
        why = f"storage {what} is not in the vendor's Region table (uploads may fail)"
        return StorageInfo("unknown", f"unknown_{region}", False, why)
    name = REGIONS[platform].get(region)
    if name is None:
        why = f"{platform} region code {region} is not in the vendor's Region table"
        return StorageInfo(platform, f"unknown_{region}", False, why + " (uploads may fail)")
    if region in UNSUPPORTED.get(platform, frozenset()):
        why = f"{platform} region {name} is not supported by the vendor"
        return StorageInfo(platform, name, False, f"{why} (code {region}; uploads will fail)")
    return StorageInfo(platform, name, True)

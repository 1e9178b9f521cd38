"""The storage Region table in ``exporter/callbacks/storage.py`` holds every row of the vendor's
table ("Region 对照表", the RTC OpenAPI appendix, updated 2025-04-14), and decoding follows it.

``VENDOR_TABLE`` is the vendor's table as published (Markdown, copied verbatim); the test parses
it independently of the module's data: every ``N：name`` item of every row must be the module's
region ``N`` of that platform, and the codes in the notes column ("暂不支持") are the module's
unsupported ones.
"""

from __future__ import annotations

import re

import pytest

from exporter.callbacks.config import RecordingStorage
from exporter.callbacks.storage import PLATFORMS, REGIONS, UNSUPPORTED, decode_storage

VENDOR_TABLE = """\
|Type |region | 备注|
|---|---|---|
|TOS |<ul><li>0： cn-beijing，华北 2（北京）</li><li>1：cn-guangzhou，华南 1（广州）</li><li>2：cn-shanghai，华东 2（上海）</li><li>3：ap-southeast-1，亚太东南（柔佛）</li></ul> | 根据你开启的 TOS 资源，选择对应的选项。否则可能导致上传不成功。 |
|Vod |<ul><li> 0: cn-north-1 </li><li> 1: ap-southeast-1 </li></ul>| 根据你开启的 VoD 资源，选择对应的选项。否则可能导致上传不成功。 |
|Amazon S3 | <ul><li> 0：us-east-1，美国东部（弗吉尼亚北部）</li><li>1：us-east-2，美国东部（俄亥俄）</li><li>2：us-west-1，美国西部（加利福尼亚北部）</li><li>3：us-west-2，美国西部（俄勒冈）</li><li>4：eu-west-1，欧洲（爱尔兰）</li><li>5：eu-west-2，欧洲（伦敦）</li><li>6：eu-west-3，欧洲（巴黎）</li><li>7：eu-central-1，欧洲（法兰克福）</li><li>8：ap-southeast-1，亚太地区（新加坡）</li><li>9：ap-southeast-2，亚太地区（悉尼）</li><li>10：ap-northeast-1，亚太地区（东京）</li><li>11：ap-northeast-2，亚太地区（首尔）</li><li>12：sa-east-1，南美洲（圣保罗）</li><li>13：ca-central-1，加拿大（中部）</li><li>14：ap-south-1，亚太地区（孟买）</li><li>15：cn-north-1，中国（北京）【AWS中国】</li><li>16：cn-northwest-1，中国（宁夏）【AWS中国】</li><li>17：us-gov-east-1，AWS GovCloud（美国东部）</li><li>18：ap-east-1，亚太地区（香港）</li><li>19：eu-south-1，欧洲（米兰）</li><li>20：ap-northeast-3，亚太地区（大阪）</li><li>21：eu-north-1，欧洲（斯德哥尔摩）</li><li>22：me-south-1，中东（巴林）</li><li>23：us-gov-west-1，AWS GovCloud（美国西部）</li><li>24：af-south-1，非洲（开普敦）</li></ul>详情可参看 AWS [区域终端节点](https://docs.aws.amazon.com/zh_cn/general/latest/gr/rande.html#regional-endpoints) 、[终端节点和配额](https://docs.aws.amazon.com/zh_cn/general/latest/gr/s3.html)和 [国内终端节点](https://docs.amazonaws.cn/aws/latest/userguide/endpoints-Beijing.html)  |7，9，17，23 对应地域暂不支持。 |
|阿里云OSS |<ul><li>0：oss-cn-hangzhou</li><li>1：oss-cn-shanghai</li><li>2：oss-cn-qingdao</li><li>3：oss-cn-beijing</li><li>4：oss-cn-zhangjiakou</li><li>5：oss-cn-huhehaote</li><li>6：oss-cn-wulanchabu</li><li>7：oss-cn-shenzhen</li><li>8：oss-cn-heyuan</li><li>9：oss-cn-guangzhou</li><li>10：oss-cn-chengdu</li><li>11：oss-cn-hongkong</li><li>12：oss-us-west-1</li><li>13：oss-us-east-1</li><li>14：oss-ap-southeast-1</li><li>15：oss-ap-southeast-2</li><li>16：oss-ap-southeast-3</li><li>17：oss-ap-southeast-5</li><li>18：oss-ap-northeast-1</li><li>19：oss-ap-south-1</li><li>20：oss-eu-central-1</li><li>21：oss-eu-west-1</li><li>22：oss-me-east-1</li><li>23：oss-ap-southeast-6</li></ul>详情可参看[阿里云访问域名和数据中心](https://help.aliyun.com/document_detail/31837.html) |16 对应地域暂不支持。|
| 华为云 |<ul><li> 1：cn-north-4，华北-北京四</li><li>3：cn-north-9，华北-乌兰察布一 </li><li>5：cn-east-3，华东-上海一 </li><li>6：cn-south-1，华南-广州</li><li>11：cn-southwest-2，西南-贵阳一 </li><li>14：ap-southeast-1，中国-香港</li><li>详情可参看 [华为云地区和终端节点](https://developer.huaweicloud.com/endpoint?OBS) |
| 腾讯云 | <ul><li>1：ap-beijing，北京 </li><li> 2：ap-nanjing，南京</li><li> 3：ap-shanghai，上海 </li><li>4：ap-guangzhou，广州 </li><li> 5：ap-chengdu，成都</li><li> 6：ap-chongqing，重庆 </li><li> 7：ap-shenzhen-fsi，深圳金融 </li><li> 8：ap-shanghai-fsi，上海金融 </li><li> 9：ap-beijing-fsi，北京金融</li><li> 10：ap-hongkong，中国香港 </li></ul>详情可参看[腾讯云地域和访问域名](https://cloud.tencent.com/document/product/436/6224)|
| 七牛云 |<ul><li> 0：cn-east-1，华东-浙江 </li><li> 1：cn-east-2，华东-浙江2 </li><li> 2：cn-north-1，华北-河北 </li><li> 3：cn-south-1，华南-广东</li></ul>详情可参看[七牛云服务域名](https://developer.qiniu.com/kodo/4088/s3-access-domainname) |
|VeImageX |<ul><li>0：cn-north-1</li><li> 1：ap-singapore-1</li></ul>| |
"""

# the vendor's row titles -> (StorageConfig Type, CustomConfig Vendor)
ROWS = {
    "TOS": (0, None),
    "Vod": (1, None),
    "Amazon S3": (2, 0),
    "阿里云OSS": (2, 1),
    "华为云": (2, 2),
    "腾讯云": (2, 3),
    "七牛云": (2, 4),
    "VeImageX": (3, None),
}


def vendor_rows() -> dict[str, tuple[dict[int, str], set[int]]]:
    """Row title -> (code -> region name, codes the notes call unsupported)."""
    out = {}
    for line in VENDOR_TABLE.splitlines()[2:]:
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        title, body = cells[0], cells[1]
        notes = cells[2] if len(cells) > 2 else ""
        items = re.findall(r"<li>\s*(\d+)\s*[：:]\s*([a-z0-9-]+)", body)
        unsupported = set()
        if "暂不支持" in notes:
            unsupported = {int(n) for n in re.findall(r"\d+", notes.split("对应")[0])}
        out[title] = ({int(n): name for n, name in items}, unsupported)
    return out


def test_the_vendor_table_is_parsed_whole() -> None:
    rows = vendor_rows()
    assert set(rows) == set(ROWS)
    assert sum(len(codes) for codes, _ in rows.values()) == 4 + 2 + 25 + 24 + 6 + 10 + 4 + 2


@pytest.mark.parametrize("title", list(ROWS))
def test_every_row_of_the_vendor_table_is_in_the_module(title: str) -> None:
    codes, unsupported = vendor_rows()[title]
    type_, vendor = ROWS[title]
    platform = PLATFORMS[(type_, vendor)]
    assert REGIONS[platform] == codes
    assert UNSUPPORTED.get(platform, frozenset()) == unsupported
    for code, name in codes.items():
        info = decode_storage(type_, vendor, code)
        assert (info.platform, info.region) == (platform, name)
        assert info.supported == (code not in unsupported)


def test_unsupported_regions_name_the_region() -> None:
    info = RecordingStorage(type=2, vendor=0, region=7).info()
    assert (info.platform, info.region, info.supported) == ("s3", "eu-central-1", False)
    assert info.problem is not None and "eu-central-1 is not supported" in info.problem
    oss = decode_storage(2, 1, 16)
    assert oss.region == "oss-ap-southeast-3" and not oss.supported


def test_codes_outside_the_table_are_unknown_never_an_error() -> None:
    assert decode_storage(2, 2, 0).region == "unknown_0"  # Huawei has no code 0
    assert decode_storage(0, None, 99).region == "unknown_99"
    byteplus = decode_storage(2, 5, 0)  # seen in the wild, not in the table
    assert (byteplus.platform, byteplus.region, byteplus.supported) == (
        "unknown",
        "unknown_0",
        False,
    )
    assert byteplus.problem is not None and "vendor 5" in byteplus.problem
    assert decode_storage(9, None, 1).platform == "unknown"
    assert decode_storage(2, None, 3).platform == "s3"  # Vendor defaults to 0 (Amazon S3)
    assert decode_storage(1, None, 0).problem is None


def test_vendor_belongs_to_type_2_only() -> None:
    with pytest.raises(ValueError, match="vendor is only used with type 2"):
        RecordingStorage(type=1, vendor=0, region=0)

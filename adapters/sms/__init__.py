"""SMS channel: the aggregator behind the 1708 shortcode (Vonage or Infobip dialect)."""

from adapters.sms.adapter import SmsAdapter
from adapters.sms.concat import merge_segments
from adapters.sms.segments import SegmentPlan, fit_segments, split_segments

__all__ = ["SegmentPlan", "SmsAdapter", "fit_segments", "merge_segments", "split_segments"]

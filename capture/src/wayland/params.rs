//! The PipeWire parameters the stream offers: the formats it takes and, once one is chosen, the
//! buffer memory it can read and the metadata it wants with each buffer.

use crate::CaptureError;
use pipewire::spa;
use spa::buffer::DataType;
use spa::param::video::VideoFormat;
use spa::pod::{ChoiceValue, Object, Pod, Property, PropertyFlags, Value};
use spa::utils::{Choice, ChoiceEnum, ChoiceFlags, Fraction, Id, Rectangle, SpaTypes};

/// Damage rectangles per buffer asked of the producer (mutter writes up to 32).
const DAMAGE_RECTS: i32 = 32;
/// `DRM_FORMAT_MOD_LINEAR`: the only DMA-BUF layout a CPU reads as it lies.
const MOD_LINEAR: i64 = 0;
/// Largest cursor bitmap asked for, in pixels per side.
const MAX_CURSOR: i32 = 384;

/// Serialises a pod value into bytes.
fn serialize(value: Value) -> Result<Vec<u8>, CaptureError> {
    spa::pod::serialize::PodSerializer::serialize(std::io::Cursor::new(Vec::new()), &value)
        .map(|(cursor, _)| cursor.into_inner())
        .map_err(|e| CaptureError::PipeWire(format!("building a parameter: {e:?}")))
}

pub(crate) fn pod(bytes: &[u8]) -> Result<&Pod, CaptureError> {
    Pod::from_bytes(bytes).ok_or_else(|| CaptureError::PipeWire("invalid parameter pod".into()))
}

fn choice_range<T: spa::pod::CanonicalFixedSizedPod>(default: T, min: T, max: T) -> Choice<T> {
    Choice(
        ChoiceFlags::empty(),
        ChoiceEnum::Range { default, min, max },
    )
}

/// The formats we take: raw video in a 4-byte layout, any size and rate; with `dmabuf`, only as
/// linear DMA-BUFs (the producer picks shared memory when it offers no DMA-BUF).
pub(crate) fn format_pod(dmabuf: bool) -> Result<Vec<u8>, CaptureError> {
    use spa::param::format::{FormatProperties, MediaSubtype, MediaType};
    let formats = [
        VideoFormat::BGRx,
        VideoFormat::BGRx,
        VideoFormat::BGRA,
        VideoFormat::RGBx,
        VideoFormat::RGBA,
    ];
    let mut properties = vec![
        Property::new(
            FormatProperties::MediaType.as_raw(),
            Value::Id(Id(MediaType::Video.as_raw())),
        ),
        Property::new(
            FormatProperties::MediaSubtype.as_raw(),
            Value::Id(Id(MediaSubtype::Raw.as_raw())),
        ),
        Property::new(
            FormatProperties::VideoFormat.as_raw(),
            Value::Choice(ChoiceValue::Id(Choice(
                ChoiceFlags::empty(),
                ChoiceEnum::Enum {
                    default: Id(formats[0].as_raw()),
                    alternatives: formats[1..].iter().map(|f| Id(f.as_raw())).collect(),
                },
            ))),
        ),
        Property::new(
            FormatProperties::VideoSize.as_raw(),
            Value::Choice(ChoiceValue::Rectangle(choice_range(
                Rectangle {
                    width: 1920,
                    height: 1080,
                },
                Rectangle {
                    width: 1,
                    height: 1,
                },
                Rectangle {
                    width: glimpse::MAX_DIMENSION,
                    height: glimpse::MAX_DIMENSION,
                },
            ))),
        ),
        Property::new(
            FormatProperties::VideoFramerate.as_raw(),
            Value::Choice(ChoiceValue::Fraction(choice_range(
                Fraction { num: 30, denom: 1 },
                Fraction { num: 0, denom: 1 },
                Fraction {
                    num: 1000,
                    denom: 1,
                },
            ))),
        ),
    ];
    if dmabuf {
        properties.push(Property {
            key: FormatProperties::VideoModifier.as_raw(),
            flags: PropertyFlags::MANDATORY,
            value: Value::Long(MOD_LINEAR),
        });
    }
    serialize(Value::Object(Object {
        type_: SpaTypes::ObjectParamFormat.as_raw(),
        id: spa::param::ParamType::EnumFormat.as_raw(),
        properties,
    }))
}

/// `SPA_PARAM_Buffers` (which memory we can read) and the metadata we want with each buffer.
pub(crate) fn buffer_pods(dmabuf: bool) -> Result<Vec<Vec<u8>>, CaptureError> {
    let data_types = if dmabuf {
        1 << DataType::DmaBuf.as_raw()
    } else {
        (1 << DataType::MemFd.as_raw()) | (1 << DataType::MemPtr.as_raw())
    };
    let mut pods = vec![serialize(Value::Object(Object {
        type_: SpaTypes::ObjectParamBuffers.as_raw(),
        id: spa::param::ParamType::Buffers.as_raw(),
        properties: vec![Property::new(
            spa::sys::SPA_PARAM_BUFFERS_dataType,
            Value::Int(data_types),
        )],
    }))?];
    let region = std::mem::size_of::<spa::sys::spa_meta_region>() as i32;
    let cursor = |side: i32| {
        (std::mem::size_of::<spa::sys::spa_meta_cursor>()
            + std::mem::size_of::<spa::sys::spa_meta_bitmap>()) as i32
            + side * side * 4
    };
    let metas = [
        (
            spa::sys::SPA_META_Header,
            Value::Int(std::mem::size_of::<spa::sys::spa_meta_header>() as i32),
        ),
        (spa::sys::SPA_META_VideoCrop, Value::Int(region)),
        (
            spa::sys::SPA_META_VideoDamage,
            Value::Choice(ChoiceValue::Int(choice_range(
                region * DAMAGE_RECTS,
                region,
                region * DAMAGE_RECTS,
            ))),
        ),
        (
            spa::sys::SPA_META_Cursor,
            Value::Choice(ChoiceValue::Int(choice_range(
                cursor(64),
                cursor(1),
                cursor(MAX_CURSOR),
            ))),
        ),
    ];
    for (kind, size) in metas {
        pods.push(serialize(Value::Object(Object {
            type_: SpaTypes::ObjectParamMeta.as_raw(),
            id: spa::param::ParamType::Meta.as_raw(),
            properties: vec![
                Property::new(spa::sys::SPA_PARAM_META_type, Value::Id(Id(kind))),
                Property::new(spa::sys::SPA_PARAM_META_size, size),
            ],
        }))?);
    }
    Ok(pods)
}

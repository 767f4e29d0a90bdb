#include "hopgate/codec/codec_error.hpp"

#include <string>

namespace hopgate::codec {
namespace {

class CodecErrorCategory final : public boost::system::error_category {
public:
  const char* name() const noexcept override { return "hopgate.codec"; }
  std::string message(int ev) const override {
    switch (static_cast<CodecError>(ev)) {
    case CodecError::need_more: return "need more input";
    case CodecError::bad_version: return "bad version";
    case CodecError::no_methods: return "no methods offered";
    case CodecError::bad_address_type: return "bad address type";
    case CodecError::empty_domain: return "empty domain";
    case CodecError::field_too_long: return "field too long";
    case CodecError::bad_field: return "bad field";
    case CodecError::bad_auth_version: return "bad auth version";
    case CodecError::bad_reply: return "bad reply code";
    }
    // 0 is never a CodecError, but error_code may still ask for its text.
    return ev == 0 ? "success" : "unknown codec error";
  }
};

} // namespace

const boost::system::error_category& codec_error_category() noexcept {
  static const CodecErrorCategory category;
  return category;
}

} // namespace hopgate::codec

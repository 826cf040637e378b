// SPDX-License-Identifier: Apache-2.0
// vigil::Result: the one error type of userspace. Recoverable errors are values, never exceptions.
// Error::code says what failed (errno-style), Error::context says what we were doing; callers
// prepend their own context with with_context() so a startup failure prints one readable chain.
#pragma once

#include <string>
#include <system_error>
#include <utility>

#include <tl/expected.hpp>

namespace vigil {

struct Error {
  std::error_code code;
  std::string context;

  // "context: strerror(code)" or just the context when code is empty.
  std::string message() const
  {
    if (!code)
      return context;
    return context + ": " + code.message();
  }
};

// One alias to flip to std::expected under C++23.
template <typename T = void>
using Result = tl::expected<T, Error>;

inline tl::unexpected<Error> fail_errno(int err, std::string what)
{
  return tl::unexpected<Error>(Error{std::error_code(err, std::system_category()), std::move(what)});
}

// A failure that is not an errno (bad input, parse errors): the context is the whole message.
inline tl::unexpected<Error> fail(std::string what)
{
  return tl::unexpected<Error>(Error{std::error_code(), std::move(what)});
}

inline Error with_context(Error e, const std::string &outer)
{
  e.context = outer + ": " + e.context;
  return e;
}

} // namespace vigil

# Writes OUTPUT: a C++ file defining each asset of report_assets.h as a raw string literal.
# Run by the build (cmake -P) whenever one of the files changes.
set(assets
  kUplotScript  uplot/uPlot.iife.min.js
  kUplotStyle   uplot/uPlot.min.css
  kUplotLicense uplot/LICENSE
  kPageScript   report_page.js)
set(text "// Generated from core/report by embed_assets.cmake: do not edit.\n#include \"core/report/report_assets.h\"\n\nnamespace rt::report_assets {\n")
list(LENGTH assets count)
math(EXPR last "${count} - 1")
foreach(i RANGE 0 ${last} 2)
  math(EXPR j "${i} + 1")
  list(GET assets ${i} name)
  list(GET assets ${j} file)
  file(READ "${SOURCE_DIR}/${file}" content)
  string(FIND "${content}" ")asset\"" clash)
  if(NOT clash EQUAL -1)
    message(FATAL_ERROR "${file} holds the raw string's end marker")
  endif()
  string(APPEND text "extern const char ${name}[] = R\"asset(${content})asset\";\n")
endforeach()
string(APPEND text "}  // namespace rt::report_assets\n")
file(WRITE "${OUTPUT}.tmp" "${text}")
file(COPY_FILE "${OUTPUT}.tmp" "${OUTPUT}" ONLY_IF_DIFFERENT)

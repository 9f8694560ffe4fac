# libtorch 1.13's ATen/core/List.h does not compile with clang in C++20 mode: clang instantiates the (C++20 constexpr)
# std::vector<c10::IValue> destructor inside ListImpl while IValue is still incomplete. PyTorch 2 fixed the header.
# For clang builds (the fuzzers, sanitizer builds) we put a copy of that one header, with the three inline members that
# trigger it turned into templates (same layout, same behaviour, instantiated only once IValue is complete), first on
# the include path. gcc builds and newer libtorch versions are untouched.
if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    return()
endif()
find_file(LS_TORCH_LIST_H ATen/core/List.h PATHS ${TORCH_INCLUDE_DIRS} /usr/include NO_DEFAULT_PATH)
if(NOT LS_TORCH_LIST_H)
    return()
endif()
file(READ "${LS_TORCH_LIST_H}" _list)
set(_patched "${_list}")
string(REPLACE
    "  explicit ListImpl(list_type list_, TypePtr elementType_)"
    "  template <class L = list_type, std::enable_if_t<std::is_same<L, list_type>::value, int> = 0>\n  explicit ListImpl(L list_, TypePtr elementType_)"
    _patched "${_patched}")
string(REPLACE
    "  intrusive_ptr<ListImpl> copy() const {\n    return make_intrusive<ListImpl>(list, elementType);"
    "  template <class Self = ListImpl>\n  intrusive_ptr<Self> copy() const {\n    return make_intrusive<Self>(list, elementType);"
    _patched "${_patched}")
string(REPLACE
    "inline const IValue* ptr_to_first_element(const GenericList& list) {"
    "template <class L = GenericList>\ninline const IValue* ptr_to_first_element(const L& list) {"
    _patched "${_patched}")
string(REGEX MATCHALL "template <class (L|Self) =" _hits "${_patched}")
list(LENGTH _hits _n)
if(_n EQUAL 3)
    set(_dir "${CMAKE_BINARY_DIR}/torch-clang-shim")
    # Written through configure_file so that an unchanged header keeps its timestamp (no rebuild on every configure).
    file(WRITE "${CMAKE_BINARY_DIR}/CMakeFiles/List.h.shim" "// Patched copy of ${LS_TORCH_LIST_H} (cmake/TorchClangShim.cmake)\n${_patched}")
    configure_file("${CMAKE_BINARY_DIR}/CMakeFiles/List.h.shim" "${_dir}/ATen/core/List.h" COPYONLY)
    include_directories(BEFORE SYSTEM "${_dir}")
    message(STATUS "clang: using the C++20 fix for ${LS_TORCH_LIST_H} in ${_dir}")
elseif(NOT _list MATCHES "explicit ListImpl\\(list_type list_")
    # A libtorch whose List.h has changed (PyTorch >= 2): nothing to do.
else()
    message(WARNING "clang: ${LS_TORCH_LIST_H} differs from the libtorch 1.13 text the shim expects; C++20 builds may fail")
endif()

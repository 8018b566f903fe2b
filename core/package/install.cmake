# `cmake --install`: the ringtrain executable, the libraries, their headers under
# include/ringtrain/ and a CMake package, so that another project's
#   find_package(ringtrain CONFIG REQUIRED)
#   target_link_libraries(my_program PRIVATE ringtrain::ringtrain)
# builds against it (examples/custom_model).
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

# ringtrain::ringtrain: every library, the command line's included.
add_library(ringtrain_library INTERFACE)
target_link_libraries(ringtrain_library INTERFACE ringtrain_cli)
set_target_properties(ringtrain_library PROPERTIES EXPORT_NAME ringtrain)
foreach(component base kernels comm data core serving cli)
  set_target_properties(ringtrain_${component} PROPERTIES EXPORT_NAME ${component})
endforeach()

install(TARGETS ringtrain RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS ringtrain_library ringtrain_base ringtrain_kernels ringtrain_comm ringtrain_data ringtrain_core
                ringtrain_serving ringtrain_cli
        EXPORT ringtrainTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})

# The headers keep their folders (code includes "core/layer.h"); ringtrain.h gathers the public API.
foreach(folder core kernels comm data)
  file(GLOB_RECURSE headers RELATIVE ${PROJECT_SOURCE_DIR} CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/${folder}/*.h)
  foreach(header IN LISTS headers)
    get_filename_component(header_folder ${header} DIRECTORY)
    install(FILES ${header} DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/ringtrain/${header_folder})
  endforeach()
endforeach()
install(FILES ${PROJECT_SOURCE_DIR}/core/ringtrain.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/ringtrain)

set(package_dir ${CMAKE_INSTALL_LIBDIR}/cmake/ringtrain)
install(EXPORT ringtrainTargets NAMESPACE ringtrain:: DESTINATION ${package_dir})
configure_package_config_file(${PROJECT_SOURCE_DIR}/core/package/ringtrainConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/ringtrainConfig.cmake INSTALL_DESTINATION ${package_dir})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/ringtrainConfigVersion.cmake COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/ringtrainConfig.cmake ${PROJECT_BINARY_DIR}/ringtrainConfigVersion.cmake
        DESTINATION ${package_dir})

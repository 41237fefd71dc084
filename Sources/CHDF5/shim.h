#include <hdf5.h>
/* HDF5's type and flag macros do not import into Swift; these getters do (formats.md §3.3). */
static inline hid_t    swift_H5T_NATIVE_FLOAT(void)  { return H5T_NATIVE_FLOAT; }
static inline hid_t    swift_H5T_NATIVE_DOUBLE(void) { return H5T_NATIVE_DOUBLE; }
static inline hid_t    swift_H5T_NATIVE_INT64(void)  { return H5T_NATIVE_INT64; }
static inline hid_t    swift_H5T_NATIVE_INT32(void)  { return H5T_NATIVE_INT32; }
static inline hid_t    swift_H5T_C_S1(void)          { return H5T_C_S1; }
static inline size_t   swift_H5T_VARIABLE(void)      { return H5T_VARIABLE; }
static inline unsigned swift_H5F_ACC_RDONLY(void)    { return H5F_ACC_RDONLY; }
static inline unsigned swift_H5F_ACC_TRUNC(void)     { return H5F_ACC_TRUNC; }
static inline hid_t    swift_H5P_DEFAULT(void)       { return H5P_DEFAULT; }
static inline hid_t    swift_H5S_ALL(void)           { return H5S_ALL; }
static inline hid_t    swift_H5P_DATASET_CREATE(void){ return H5P_DATASET_CREATE; }
static inline void     swift_H5_silence_errors(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

export * from '../../src/lab/exec';

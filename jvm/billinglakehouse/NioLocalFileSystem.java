package billinglakehouse;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.attribute.PosixFilePermission;
import java.util.EnumSet;
import java.util.Set;
import org.apache.hadoop.fs.LocalFileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.RawLocalFileSystem;
import org.apache.hadoop.fs.permission.FsPermission;

/**
 * Hadoop's local file system ({@code file://}) with permissions set through java.nio.
 *
 * <p>Without Hadoop's native library (never shipped with pyspark), {@code RawLocalFileSystem} sets the
 * permission of every directory and file it creates by starting a {@code chmod} process: hundreds per
 * Spark write of a partitioned table. This does the same {@code chmod} in-process. Everything else,
 * checksums included, is Hadoop's own {@code LocalFileSystem}.
 */
public class NioLocalFileSystem extends LocalFileSystem {
  public NioLocalFileSystem() {
    super(new Raw());
  }

  /** The raw (checksum-less) local file system with an in-process setPermission. */
  public static class Raw extends RawLocalFileSystem {
    // Bit i of a POSIX mode, from the least significant: others x, w, r, group x, w, r, owner x, w, r.
    private static final PosixFilePermission[] BITS = {
      PosixFilePermission.OTHERS_EXECUTE, PosixFilePermission.OTHERS_WRITE, PosixFilePermission.OTHERS_READ,
      PosixFilePermission.GROUP_EXECUTE, PosixFilePermission.GROUP_WRITE, PosixFilePermission.GROUP_READ,
      PosixFilePermission.OWNER_EXECUTE, PosixFilePermission.OWNER_WRITE, PosixFilePermission.OWNER_READ,
    };

    @Override
    public void setPermission(Path path, FsPermission permission) throws IOException {
      Set<PosixFilePermission> mode = EnumSet.noneOf(PosixFilePermission.class);
      int bits = permission.toShort();
      for (int i = 0; i < BITS.length; i++) {
        if ((bits & (1 << i)) != 0) {
          mode.add(BITS[i]);
        }
      }
      Files.setPosixFilePermissions(pathToFile(path).toPath(), mode);
    }
  }
}
